// bias_act: activations and their derivatives for one element, shared by the CUDA kernel and the host
// check (host_check.cpp). Codes match ops/bias_act.py.
#pragma once

#include <cmath>

#include "sds_hd.h"

constexpr double kSeluScale = 1.0507009873554805;
constexpr double kSeluAlpha = 1.6732632423543772;

template <typename T>
SDS_HD T sigmoid_(T z) { return T(1) / (T(1) + exp(-z)); }

// f(z) for activation `act`.
template <typename T>
SDS_HD T act_forward(int act, T z, T alpha) {
  switch (act) {
    case 1: return z > T(0) ? z : T(0);
    case 2: return z > T(0) ? z : z * alpha;
    case 3: return tanh(z);
    case 4: return sigmoid_(z);
    case 5: return z > T(0) ? z : exp(z) - T(1);
    case 6: return z > T(0) ? T(kSeluScale) * z : T(kSeluScale * kSeluAlpha) * (exp(z) - T(1));
    case 7: return z > T(20) ? z : log1p(exp(z));  // same threshold as torch's softplus
    case 8: return z * sigmoid_(z);
    default: return z;
  }
}

// f'(z) for activation `act`.
template <typename T>
SDS_HD T act_derivative(int act, T z, T alpha) {
  switch (act) {
    case 1: return z > T(0) ? T(1) : T(0);
    case 2: return z > T(0) ? T(1) : alpha;
    case 3: { const T t = tanh(z); return T(1) - t * t; }
    case 4: { const T s = sigmoid_(z); return s * (T(1) - s); }
    case 5: return z > T(0) ? T(1) : exp(z);
    case 6: return z > T(0) ? T(kSeluScale) : T(kSeluScale * kSeluAlpha) * exp(z);
    case 7: return z > T(20) ? T(1) : sigmoid_(z);
    case 8: { const T s = sigmoid_(z); return s * (T(1) + z * (T(1) - s)); }
    default: return T(1);
  }
}

// mode 0: clamp(f(z)·gain); mode 1: dy·gain·f'(z), zero where the forward output y was clamped.
// clamp < 0 disables clamping; has_y says whether y is available for the mask.
template <typename acc_t>
SDS_HD acc_t bias_act_point(int mode, int act, acc_t z, acc_t dy, acc_t y, bool has_y, acc_t alpha, acc_t gain,
                            acc_t clamp) {
  if (mode == 0) {
    acc_t v = act_forward<acc_t>(act, z, alpha) * gain;
    if (clamp >= acc_t(0)) v = v > clamp ? clamp : (v < -clamp ? -clamp : v);
    return v;
  }
  acc_t g = dy * gain * act_derivative<acc_t>(act, z, alpha);
  if (clamp >= acc_t(0) && has_y && !(y < clamp && y > -clamp)) g = acc_t(0);  // clamped: no gradient
  return g;
}
