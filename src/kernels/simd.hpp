// SIMD on x86-64 for the kernels' hot passes (exact.cpp, check.cpp): SSE2 is part of the x86-64
// baseline; AVX is chosen at run time, in functions compiled for it (target attribute), so the
// build needs no flags and runs on any x86-64. Elsewhere the kernels use their scalar loops.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)
#define PABA_X86_SIMD 1
#include <immintrin.h>

namespace paba {
namespace detail {

// Whether the CPU and the operating system support AVX (checked once).
inline bool has_avx() {
  static const bool avx = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") != 0;
  }();
  return avx;
}

// Whether the CPU and the operating system support AVX2 (checked once).
inline bool has_avx2() {
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return avx2;
}

}  // namespace detail
}  // namespace paba
#endif
