// SDS_HD: marks the per-element code of the *_core.h headers as callable from both CUDA kernels (nvcc) and
// the host check (host_check.cpp, host compiler only).
#pragma once

#ifdef __CUDACC__
#define SDS_HD __host__ __device__ __forceinline__
#else
#define SDS_HD inline
#endif
