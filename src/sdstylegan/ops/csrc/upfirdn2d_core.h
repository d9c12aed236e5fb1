// upfirdn2d: the value of one output sample, shared by the CUDA kernel and the host check
// (host_check.cpp), so the index arithmetic is tested on machines without a GPU.
#pragma once

#include "sds_hd.h"

// Sum over the filter taps that land on real (not zero-inserted) input samples; the caller applies gain.
// xp points at one (n, c) plane of in_h × in_w samples; f is fh × fw, row-major float32.
template <typename scalar_t, typename acc_t>
SDS_HD acc_t upfirdn2d_point(const scalar_t* xp, const float* f, int in_h, int in_w, int fh, int fw, int upx,
                             int upy, int downx, int downy, int px0, int py0, bool flip, int oy, int ox) {
  // Index, in the zero-inserted (upsampled) grid, of the sample under filter tap 0.
  const int u0 = oy * downy - py0;
  const int v0 = ox * downx - px0;
  // First tap that hits a real sample: (u0 + ky) must be a multiple of up.
  const int ky0 = ((-u0) % upy + upy) % upy;
  const int kx0 = ((-v0) % upx + upx) % upx;
  acc_t acc = 0;
  for (int ky = ky0; ky < fh; ky += upy) {
    const int u = u0 + ky;
    if (u < 0) continue;
    const int iy = u / upy;
    if (iy >= in_h) break;
    const int wy = flip ? ky : fh - 1 - ky;  // not flip_filter: true convolution with f
    for (int kx = kx0; kx < fw; kx += upx) {
      const int v = v0 + kx;
      if (v < 0) continue;
      const int ix = v / upx;
      if (ix >= in_w) break;
      const int wx = flip ? kx : fw - 1 - kx;
      acc += static_cast<acc_t>(xp[(long long)iy * in_w + ix]) * static_cast<acc_t>(f[wy * fw + wx]);
    }
  }
  return acc;
}
