// Starts the shim's hot code on a page boundary. GCC puts functions marked HFSHIM_HOT_PATH
// (core/base/hot_path.h) in .text.hot sections, which the linker gathers into one run; this
// file, linked first, contributes an empty .text.hot section aligned to 4 KiB, so that run
// begins a page. A passthrough call's code then spans the fewest pages the run allows, and a
// change elsewhere in the library no longer moves it across a page boundary (each page is an
// instruction TLB entry the kernel's work evicts: bench/README.md, "Ninth session").
//
// HFSHIM_HOT_PAD (a CMake cache variable, 0 by default) shifts the run by that many bytes: for
// bench/passthrough_layouts.py, which measures a change over several layouts of the same code.
#ifndef HFSHIM_HOT_PAD
#define HFSHIM_HOT_PAD 0
#endif
#define HFSHIM_STRINGIFY2(x) #x
#define HFSHIM_STRINGIFY(x) HFSHIM_STRINGIFY2(x)

__asm__(".section .text.hot.hfshim_start,\"ax\",@progbits\n"
        ".p2align 12\n"
        ".fill " HFSHIM_STRINGIFY(HFSHIM_HOT_PAD) ", 1, 0x90\n"
        ".previous\n");
