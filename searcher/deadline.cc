#include "searcher/deadline.h"

#include <string>

namespace medsearch::searcher {

namespace {

struct DeadlinePassed {};

class DeadlineSpy : public Xapian::MatchSpy {
 public:
  DeadlineSpy(Clock::time_point deadline, NowFunction now) : deadline_(deadline), now_(now) {}
  void operator()(const Xapian::Document&, double) override {
    if (++seen_ % kDeadlineCheckEvery == 0 && now_() >= deadline_) throw DeadlinePassed{};
  }
  std::string name() const override { return "medsearch.DeadlineSpy"; }

 private:
  Clock::time_point deadline_;
  NowFunction now_;
  unsigned seen_ = 0;
};

}  // namespace

Xapian::MSet match_until(Xapian::Enquire& enquire, Xapian::doccount first, Xapian::doccount maxitems,
                         Xapian::doccount check_at_least, Clock::time_point deadline, bool& cut,
                         NowFunction now) {
  cut = false;
  const Xapian::doccount least = first + maxitems;
  if (deadline == Clock::time_point::max() || check_at_least <= least) {
    return enquire.get_mset(first, maxitems, check_at_least);
  }
  if (now() >= deadline) {
    cut = true;
    return enquire.get_mset(first, maxitems, least);
  }
  DeadlineSpy spy(deadline, now);
  enquire.add_matchspy(&spy);
  Xapian::MSet mset;
  try {
    mset = enquire.get_mset(first, maxitems, check_at_least);
  } catch (const DeadlinePassed&) {
    cut = true;
  } catch (...) {
    enquire.clear_matchspies();
    throw;
  }
  // Our spy dies with this call; Xapian removes spies only all at once (see the header).
  enquire.clear_matchspies();
  return cut ? enquire.get_mset(first, maxitems, least) : mset;
}

}  // namespace medsearch::searcher
