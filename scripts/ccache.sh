# Sourced by build.sh and sanitize-build.sh (after they set $root): sets `launcher`, the cmake
# arguments that compile through ccache when it is installed (a Debian package; it makes a
# rebuild from a clean build folder, as CI does, cheap). Its keys leave out where the checkout
# is (paths under it become relative; the working directory is not hashed), so a fresh clone in
# another folder reuses earlier compiles; debug info may then name the folder of the clone that
# compiled first.
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
fi
