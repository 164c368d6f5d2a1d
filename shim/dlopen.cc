// dlopen of a shared library inside the virtual tree (a .so a hub repo ships, such as a Hugging
// Face kernel, or a Python extension module there): the dynamic loader opens the path with its
// own internal calls and found nothing. A path under the prefix is swapped for the node-cache
// file holding that content (Vfs::Backing, fetched first); every other dlopen reaches glibc's
// untouched.
//
// The wrapper is assembly that jumps into glibc's dlopen instead of calling it: glibc finds the
// caller's link map from its return address (the RUNPATH search of a name without '/', $ORIGIN,
// the namespace), so the return address must stay the caller's; torch's dlopen of its CUDA
// libraries relies on that. Known limit: a library loaded from the node cache has the cache
// file's name, so its own $ORIGIN-relative dependencies are looked up there.
#include <cstring>
#include <string>

#include "shim/shim.h"

using hfshim::Outcome;
using hfshim::Vfs;
using namespace hfshim::shim;

namespace {

// The path dlopen loads, per thread (dlopen copies it before returning).
__thread char t_backing[hfshim::kVfsPathMax] __attribute__((tls_model("initial-exec")));

}  // namespace

// glibc's dlopen, for the assembly below (set before it jumps).
extern "C" {
__attribute__((visibility("hidden"))) void* hfshim_real_dlopen = nullptr;
}

// The path to hand glibc's dlopen for `file`: the node-cache file of a virtual file, else `file`.
// Also makes sure hfshim_real_dlopen is set (a library's constructor may dlopen before ours ran).
extern "C" __attribute__((visibility("hidden"))) const char* hfshim_dlopen_path(const char* file) {
  if (hfshim_real_dlopen == nullptr) hfshim_real_dlopen = reinterpret_cast<void*>(REAL(dlopen));
  if (IsNull(file) || std::strchr(file, '/') == nullptr || !Enter(AT_FDCWD, file)) return file;
  Scope scope;
  return scope.Run(
      file,
      [&](Vfs& vfs) -> const char* {
        std::string backing;
        Outcome o = vfs.Backing(file, &backing);
        if (o.passthrough) backing = o.real_path;  // real (maybe a rewritten path)
        errno = scope.saved_errno();
        if (backing.empty() || backing.size() >= sizeof(t_backing)) return file;
        std::memcpy(t_backing, backing.c_str(), backing.size() + 1);
        return t_backing;
      },
      [&] { return file; });
}

// dlopen(file, mode): rdi = file, esi = mode. On entry rsp is 8 mod 16; two pushes and 8 bytes
// realign it for the call; the caller's return address stays on top of the stack for the jump.
asm(R"(
  .text
  .globl dlopen
  .type dlopen, @function
  .p2align 4
dlopen:
  .cfi_startproc
  endbr64
  pushq %rdi
  .cfi_adjust_cfa_offset 8
  pushq %rsi
  .cfi_adjust_cfa_offset 8
  subq $8, %rsp
  .cfi_adjust_cfa_offset 8
  call hfshim_dlopen_path
  addq $8, %rsp
  .cfi_adjust_cfa_offset -8
  popq %rsi
  .cfi_adjust_cfa_offset -8
  popq %rdi
  .cfi_adjust_cfa_offset -8
  movq %rax, %rdi
  jmp *hfshim_real_dlopen(%rip)
  .cfi_endproc
  .size dlopen, .-dlopen
)");
