// GCC 13 emits a reference to this empty marker for <iostream>; Debian 12's libstdc++ (GCC 12) lacks it.
namespace std { void ios_base_library_init() {} }
