// CPU build of the kernels' per-element code (upfirdn2d_core.h, bias_act_core.h) with the same arguments as
// the CUDA entry points, compiled with the host compiler only. Used by tests to check the kernel arithmetic
// on machines without a GPU; not used at run time.
#include <torch/extension.h>

#include "bias_act_core.h"
#include "upfirdn2d_core.h"

static torch::Tensor upfirdn2d_host(const torch::Tensor& x_in, const torch::Tensor& f_in, int64_t upx, int64_t upy,
                                    int64_t downx, int64_t downy, int64_t px0, int64_t px1, int64_t py0, int64_t py1,
                                    bool flip, double gain) {
  TORCH_CHECK(x_in.dim() == 4 && f_in.dim() == 2, "upfirdn2d_host: x NCHW, f 2-D");
  auto x = x_in.contiguous();
  auto f = f_in.to(torch::kFloat).contiguous();
  const int in_h = (int)x.size(2), in_w = (int)x.size(3), fh = (int)f.size(0), fw = (int)f.size(1);
  const int span_h = in_h * (int)upy + (int)(py0 + py1) - fh, span_w = in_w * (int)upx + (int)(px0 + px1) - fw;
  TORCH_CHECK(span_h >= 0 && span_w >= 0, "upfirdn2d_host: padded input is smaller than the filter");
  const int out_h = span_h / (int)downy + 1, out_w = span_w / (int)downx + 1;
  auto y = torch::empty({x.size(0), x.size(1), out_h, out_w}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "upfirdn2d_host", [&] {
    const int64_t planes = x.size(0) * x.size(1);
    for (int64_t p = 0; p < planes; ++p)
      for (int oy = 0; oy < out_h; ++oy)
        for (int ox = 0; ox < out_w; ++ox) {
          const scalar_t acc = upfirdn2d_point<scalar_t, scalar_t>(
              x.data_ptr<scalar_t>() + p * in_h * in_w, f.data_ptr<float>(), in_h, in_w, fh, fw, (int)upx, (int)upy,
              (int)downx, (int)downy, (int)px0, (int)py0, flip, oy, ox);
          y.data_ptr<scalar_t>()[(p * out_h + oy) * out_w + ox] = acc * static_cast<scalar_t>(gain);
        }
  });
  return y;
}

static torch::Tensor bias_act_host(const torch::Tensor& x_in, const torch::Tensor& b_in, const torch::Tensor& y_in,
                                   const torch::Tensor& dy_in, int64_t dim, int64_t mode, int64_t act, double alpha,
                                   double gain, double clamp) {
  auto x = x_in.contiguous(), b = b_in.contiguous(), y = y_in.contiguous(), dy = dy_in.contiguous();
  auto out = torch::empty_like(x);
  int64_t step = 1;
  for (int64_t d = dim + 1; d < x.dim(); ++d) step *= x.size(d);
  const int64_t channels = x.size(dim);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "bias_act_host", [&] {
    const scalar_t* xp = x.data_ptr<scalar_t>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      scalar_t z = xp[i];
      if (b.numel()) z += b.data_ptr<scalar_t>()[(i / step) % channels];
      const scalar_t g = mode == 1 ? dy.data_ptr<scalar_t>()[i] : scalar_t(0);
      const scalar_t yv = y.numel() ? y.data_ptr<scalar_t>()[i] : scalar_t(0);
      out.data_ptr<scalar_t>()[i] = bias_act_point<scalar_t>((int)mode, (int)act, z, g, yv, y.numel() > 0,
                                                             (scalar_t)alpha, (scalar_t)gain, (scalar_t)clamp);
    }
  });
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("upfirdn2d", &upfirdn2d_host, "upfirdn2d with the kernel's per-sample code, on the CPU (tests)");
  m.def("bias_act", &bias_act_host, "bias_act with the kernel's per-element code, on the CPU (tests)");
}
