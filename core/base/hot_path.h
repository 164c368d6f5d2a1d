// HFSHIM_HOT_PATH marks the code every intercepted libc call runs before it knows whether the
// call is the shim's business: the router's fast checks and the wrappers' passthrough paths.
// GCC places such functions together (.text.hot), so a passthrough call touches a few adjacent
// lines of code instead of lines on pages spread over the library. The system call before it
// (a program's close, say) evicts those lines and their TLB entries, and refetching scattered
// ones cost a passthrough open ~20-40 ns on this machine (bench/README.md, "Passthrough costs").
// Code that runs only when the call is the shim's business stays where it is.
#ifndef HFSHIM_CORE_BASE_HOT_PATH_H_
#define HFSHIM_CORE_BASE_HOT_PATH_H_

#define HFSHIM_HOT_PATH [[gnu::hot]]

#endif  // HFSHIM_CORE_BASE_HOT_PATH_H_
