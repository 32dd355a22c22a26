// A deadline for Xapian's matcher, checked on the matching thread.
//
// Xapian 1.4's Enquire::set_time_limit is not used: its POSIX timer notifies on a thread of its
// own (SIGEV_THREAD) that sets a flag on the matcher's stack, and a timer firing as a match ends
// can set it after that frame is gone (it crashed limits_test once with SIGILL). Here a match
// spy reads the clock every few candidates and, past the deadline, throws out of the matcher
// (which frees its posting lists on the way out); the match then reruns checking only the best
// hits. Local databases only: a remote shard does not run our spies.
#pragma once

#include <xapian.h>

#include <chrono>

namespace medsearch::searcher {

using Clock = std::chrono::steady_clock;
using NowFunction = Clock::time_point (*)();

// The candidates a DeadlineSpy counts between two reads of the clock.
inline constexpr unsigned kDeadlineCheckEvery = 32;

// enquire.get_mset(first, maxitems, check_at_least), except that once `deadline` has passed
// only the best first + maxitems are checked: a deadline already passed goes straight to that
// pruned match, and a match that runs into it stops and reruns pruned, without the enquire's
// match spies (they keep what they saw: partial counts). Whenever it had to watch the clock
// during the match, it leaves the enquire with no match spies (Xapian removes them only all
// at once). `cut` says whether checking stopped short of check_at_least.
// Clock::time_point::max() means no deadline; `now` is the clock (tests pass their own).
Xapian::MSet match_until(Xapian::Enquire& enquire, Xapian::doccount first, Xapian::doccount maxitems,
                         Xapian::doccount check_at_least, Clock::time_point deadline, bool& cut,
                         NowFunction now = &Clock::now);

}  // namespace medsearch::searcher
