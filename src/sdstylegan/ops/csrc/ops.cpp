// Python bindings and argument checks for the sdstylegan CUDA kernels (upfirdn2d, bias_act).
#include <torch/extension.h>

torch::Tensor upfirdn2d_cuda(const torch::Tensor& x, const torch::Tensor& f, int upx, int upy, int downx,
                             int downy, int px0, int px1, int py0, int py1, bool flip, double gain);
torch::Tensor bias_act_cuda(const torch::Tensor& x, const torch::Tensor& b, const torch::Tensor& y,
                            const torch::Tensor& dy, int64_t dim, int64_t mode, int64_t act, double alpha,
                            double gain, double clamp);

static torch::Tensor upfirdn2d(const torch::Tensor& x, const torch::Tensor& f, int64_t upx, int64_t upy,
                               int64_t downx, int64_t downy, int64_t px0, int64_t px1, int64_t py0,
                               int64_t py1, bool flip, double gain) {
  TORCH_CHECK(x.is_cuda() && f.is_cuda(), "upfirdn2d: x and f must be CUDA tensors");
  TORCH_CHECK(x.dim() == 4 && x.is_contiguous(), "upfirdn2d: x must be a contiguous NCHW tensor");
  TORCH_CHECK(f.dim() == 2 && f.scalar_type() == torch::kFloat && f.is_contiguous(),
              "upfirdn2d: f must be a contiguous 2-D float32 tensor");
  TORCH_CHECK(x.device() == f.device(), "upfirdn2d: x and f must be on the same device");
  TORCH_CHECK(upx >= 1 && upy >= 1 && downx >= 1 && downy >= 1, "upfirdn2d: up and down must be >= 1");
  return upfirdn2d_cuda(x, f, (int)upx, (int)upy, (int)downx, (int)downy, (int)px0, (int)px1, (int)py0,
                        (int)py1, flip, gain);
}

static torch::Tensor bias_act(const torch::Tensor& x, const torch::Tensor& b, const torch::Tensor& y,
                              const torch::Tensor& dy, int64_t dim, int64_t mode, int64_t act, double alpha,
                              double gain, double clamp) {
  TORCH_CHECK(x.is_cuda() && x.is_contiguous(), "bias_act: x must be a contiguous CUDA tensor");
  TORCH_CHECK(dim >= 0 && dim < x.dim(), "bias_act: dim out of range");
  TORCH_CHECK(b.numel() == 0 || (b.dim() == 1 && b.size(0) == x.size(dim) && b.is_contiguous() &&
                                 b.scalar_type() == x.scalar_type() && b.device() == x.device()),
              "bias_act: b must be a contiguous 1-D tensor of x.shape[dim] elements, same dtype and device");
  TORCH_CHECK(mode == 0 || mode == 1, "bias_act: mode must be 0 (forward) or 1 (gradient)");
  if (mode == 1) {
    TORCH_CHECK(dy.sizes() == x.sizes() && dy.is_contiguous() && dy.scalar_type() == x.scalar_type(),
                "bias_act: dy must match x");
    TORCH_CHECK(y.numel() == 0 || (y.sizes() == x.sizes() && y.is_contiguous()), "bias_act: y must match x");
  }
  TORCH_CHECK(act >= 0 && act <= 8, "bias_act: unknown activation code");
  return bias_act_cuda(x, b, y, dy, dim, mode, act, alpha, gain, clamp);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("upfirdn2d", &upfirdn2d, "upsample, pad, FIR filter, downsample (CUDA)");
  m.def("bias_act", &bias_act, "fused bias + activation + gain + clamp, or its gradient (CUDA)");
}
