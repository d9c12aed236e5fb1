// upfirdn2d CUDA kernel: one thread per output sample (upfirdn2d_core.h), visiting only the filter taps that
// land on real (not zero-inserted) input samples, so upsampling costs fh·fw/(up²) multiply-adds per output.
#include <torch/extension.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>

#include "upfirdn2d_core.h"

namespace {

template <typename scalar_t, typename acc_t>
__global__ void upfirdn2d_kernel(const scalar_t* __restrict__ x, const float* __restrict__ f,
                                 scalar_t* __restrict__ y, int64_t total, int in_h, int in_w, int out_h,
                                 int out_w, int fh, int fw, int upx, int upy, int downx, int downy, int px0,
                                 int py0, bool flip, acc_t gain) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)blockDim.x * gridDim.x) {
    const int ox = (int)(idx % out_w);
    const int64_t t = idx / out_w;
    const int oy = (int)(t % out_h);
    const int64_t plane = t / out_h;
    const acc_t acc = upfirdn2d_point<scalar_t, acc_t>(x + plane * (int64_t)in_h * in_w, f, in_h, in_w, fh, fw,
                                                       upx, upy, downx, downy, px0, py0, flip, oy, ox);
    y[idx] = static_cast<scalar_t>(acc * gain);
  }
}

}  // namespace

torch::Tensor upfirdn2d_cuda(const torch::Tensor& x, const torch::Tensor& f, int upx, int upy, int downx,
                             int downy, int px0, int px1, int py0, int py1, bool flip, double gain) {
  const c10::cuda::OptionalCUDAGuard guard(x.device());
  const int in_h = (int)x.size(2), in_w = (int)x.size(3);
  const int fh = (int)f.size(0), fw = (int)f.size(1);
  const int span_h = in_h * upy + py0 + py1 - fh, span_w = in_w * upx + px0 + px1 - fw;
  TORCH_CHECK(span_h >= 0 && span_w >= 0, "upfirdn2d: padded input is smaller than the filter");
  const int out_h = span_h / downy + 1, out_w = span_w / downx + 1;
  auto y = torch::empty({x.size(0), x.size(1), out_h, out_w}, x.options());
  const int64_t total = y.numel();
  if (total == 0) return y;
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65535LL * 8);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "upfirdn2d_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    upfirdn2d_kernel<scalar_t, acc_t><<<(unsigned)blocks, threads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<scalar_t>(), f.data_ptr<float>(), y.data_ptr<scalar_t>(), total, in_h, in_w, out_h, out_w,
        fh, fw, upx, upy, downx, downy, px0, py0, flip, static_cast<acc_t>(gain));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return y;
}
