// bias_act CUDA kernel: elementwise bias + activation + gain + clamp (mode 0), or the input gradient
// dy · gain · act'(x + b) · [|y| < clamp] (mode 1). Activation codes match ops/bias_act.py.
#include <torch/extension.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>

#include "bias_act_core.h"

namespace {

template <typename scalar_t, typename acc_t>
__global__ void bias_act_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ b,
                                const scalar_t* __restrict__ y, const scalar_t* __restrict__ dy,
                                scalar_t* __restrict__ out, int64_t total, int64_t step, int64_t channels,
                                int mode, int act, acc_t alpha, acc_t gain, acc_t clamp) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
       i += (int64_t)blockDim.x * gridDim.x) {
    acc_t z = static_cast<acc_t>(x[i]);
    if (b != nullptr) z += static_cast<acc_t>(b[(i / step) % channels]);
    const acc_t g = mode == 1 ? static_cast<acc_t>(dy[i]) : acc_t(0);
    const acc_t yv = y != nullptr ? static_cast<acc_t>(y[i]) : acc_t(0);
    out[i] = static_cast<scalar_t>(bias_act_point<acc_t>(mode, act, z, g, yv, y != nullptr, alpha, gain, clamp));
  }
}

}  // namespace

torch::Tensor bias_act_cuda(const torch::Tensor& x, const torch::Tensor& b, const torch::Tensor& y,
                            const torch::Tensor& dy, int64_t dim, int64_t mode, int64_t act, double alpha,
                            double gain, double clamp) {
  const c10::cuda::OptionalCUDAGuard guard(x.device());
  auto out = torch::empty_like(x);
  const int64_t total = x.numel();
  if (total == 0) return out;
  int64_t step = 1;
  for (int64_t d = dim + 1; d < x.dim(); ++d) step *= x.size(d);
  const int64_t channels = x.size(dim);
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65535LL * 8);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "bias_act_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    bias_act_kernel<scalar_t, acc_t><<<(unsigned)blocks, threads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<scalar_t>(), b.numel() ? b.data_ptr<scalar_t>() : nullptr,
        y.numel() ? y.data_ptr<scalar_t>() : nullptr, mode == 1 ? dy.data_ptr<scalar_t>() : nullptr,
        out.data_ptr<scalar_t>(), total, step, channels, (int)mode, (int)act, static_cast<acc_t>(alpha),
        static_cast<acc_t>(gain), static_cast<acc_t>(clamp));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}
