// GELU and GELU', exact and tanh forms, for float32-and-narrower inputs, computed in float64 and
// rounded once by the caller; the exact form for float64 inputs at the end (no torch here: the math alone, compiled and checked on its own).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "gelu_coeffs.h"

namespace relukit {

// With z = |x| clamped to Z (past which float32 results round to 0 or to x):
//   Phi(-z)             = exp(-z^2/2) * M(z)
//   Phi(-z) - z*phi(z)  = exp(-z^2/2) * (z - z0) * E(z)      (= gelu'(-z))
// gelu(x) = x <= 0 ? -z*Phi(-z) : x*(1 - Phi(-z)),  gelu'(x) = x <= 0 ? D : 1 - D.
// z^2 is exact in float64 for float32 inputs, z - z0 is exact near z0 (Sterbenz), M and E are
// within 2e-10 relative (gelu_coeffs.h), exp within 3e-13: results are within 0.51 ulp of float32
// before its one rounding, and gelu' keeps that relative accuracy next to its zero at -z0.

namespace fit = gelu_fit;

template <int N>
[[gnu::always_inline]] inline double horner(const double (&c)[N], double t) {
  double acc = c[N - 1];
#pragma GCC unroll 32  // straight-line code, so that the element loop around it vectorises
  for (int j = N - 2; j >= 0; --j) acc = std::fma(acc, t, c[j]);
  return acc;
}

// Cody-Waite reduction v = k*ln2 + r, |r| <= ln2/2, for v in [-708, 0]: r, and 2^k built in
// the exponent bits (k >= -1022: normal). r = v exactly when k = 0. Shared by exp_nonpositive
// (GELU) and the ELU kernels' expm1/exp (relukit_ops.cpp).
struct Ln2Reduced {
  double r;
  double scale;  // 2^k
};

[[gnu::always_inline]] inline Ln2Reduced reduce_ln2(double v) {
  constexpr double kLog2e = 1.4426950408889634;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 32 trailing zero bits: k*hi is exact
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kShift = 0x1.8p52;  // adding it rounds to an integer held in the low bits
  const double shifted = std::fma(v, kLog2e, kShift);
  const double k = shifted - kShift;
  const double r = std::fma(-k, kLn2Lo, std::fma(-k, kLn2Hi, v));
  const int64_t ki = std::bit_cast<int64_t>(shifted) - std::bit_cast<int64_t>(kShift);
  return {r, std::bit_cast<double>((ki + 1023) << 52)};
}

// exp(v) for v in [-708, 0]: degree-10 Taylor polynomial on the reduced r (relative error
// < 3e-13).
[[gnu::always_inline]] inline double exp_nonpositive(double v) {
  const auto [r, scale] = reduce_ln2(v);
  double p = 1.0 / 3628800;
  p = std::fma(p, r, 1.0 / 362880);
  p = std::fma(p, r, 1.0 / 40320);
  p = std::fma(p, r, 1.0 / 5040);
  p = std::fma(p, r, 1.0 / 720);
  p = std::fma(p, r, 1.0 / 120);
  p = std::fma(p, r, 1.0 / 24);
  p = std::fma(p, r, 1.0 / 6);
  p = std::fma(p, r, 0.5);
  p = std::fma(p, r, 1.0);
  p = std::fma(p, r, 1.0);
  return p * scale;
}

struct GeluTerms {
  double z;      // |x| clamped to Z (NaN becomes Z; callers keep NaN through x)
  double t;      // (z - K)/(z + K)
  double gauss;  // exp(-z^2/2)
};

[[gnu::always_inline]] inline GeluTerms gelu_terms(double x) {
  const double a = std::fabs(x);
  const double z = a < fit::kZ ? a : fit::kZ;
  return {z, (z - fit::kK) / (z + fit::kK), exp_nonpositive(-0.5 * (z * z))};
}

[[gnu::always_inline]] inline double gelu_exact(double x) {
  const GeluTerms u = gelu_terms(x);
  const double lower = u.gauss * horner(fit::kM, u.t);  // Phi(-z)
  const double clamped = x > -fit::kZ ? x : -fit::kZ;    // -inf: -Z * 0, not -inf * 0
  return x <= 0 ? clamped * lower : x * (1.0 - lower);  // NaN: x * (...) is NaN
}

[[gnu::always_inline]] inline double gelu_exact_derivative(double x) {
  const GeluTerms u = gelu_terms(x);
  const double d = u.gauss * (((u.z - fit::kZ0Hi) - fit::kZ0Lo) * horner(fit::kE, u.t));
  const double slope = x <= 0 ? d : 1.0 - d;
  return x != x ? x : slope;
}

// --- the tanh form ---
// gelu(x) = x*s, s = sigmoid(2u) = (1 + tanh u)/2, u = sqrt(2/pi)*(x + 0.044715 x^3);
// gelu'(x) = s*(1 + 2x*(1 - s)*du/dx). With w = exp(-2|u|) <= 1, s and 1 - s are 1/(1 + w) and
// w/(1 + w) (which is which follows u's sign), so neither the left tail (where 1 + tanh u
// cancels in the textbook form) nor large |x| (where x^3 overflows) loses anything. Past
// |x| = 12 float32 results are 0 or x, so x is clamped there.

constexpr double kTanhClamp = 12.0;
constexpr double kSqrt2OverPi = fit::kSqrt2OverPi;  // the catalog's constants (generated)
constexpr double kCubic = fit::kCubic;

struct TanhTerms {
  double x;      // x clamped to [-12, 12] (NaN becomes -12; callers keep NaN through x)
  double s;      // sigmoid(2u)
  double not_s;  // 1 - sigmoid(2u)
};

[[gnu::always_inline]] inline TanhTerms tanh_terms(double x) {
  const double lo = x > -kTanhClamp ? x : -kTanhClamp;
  const double c = lo < kTanhClamp ? lo : kTanhClamp;
  const double u = kSqrt2OverPi * std::fma(kCubic * c, c * c, c);
  const double w = exp_nonpositive(-2.0 * std::fabs(u));
  const double big = 1.0 / (1.0 + w);
  const double small = w * big;
  return {c, u >= 0 ? big : small, u >= 0 ? small : big};
}

[[gnu::always_inline]] inline double gelu_tanh(double x) {
  const TanhTerms t = tanh_terms(x);
  return (x < -kTanhClamp ? t.x : x) * t.s;  // -inf: -12 * 0; NaN: NaN * s
}

[[gnu::always_inline]] inline double gelu_tanh_derivative(double x) {
  const TanhTerms t = tanh_terms(x);
  const double du = kSqrt2OverPi * std::fma(3.0 * kCubic * t.x, t.x, 1.0);
  const double slope = t.s * std::fma(2.0 * t.x * du, t.not_s, 1.0);
  return x != x ? x : slope;
}

// --- float64, exact form ---
// Phi(x) = erfc(-x/sqrt2)/2, never (1 + erf)/2 (no relative precision left below x = -5). For
// x <= -1 the argument a = fl(|x|/sqrt2) is off by a_lo (known exactly: fma), which erfc
// amplifies ~2a^2-fold (400 ulp at x = -20); Phi = erfc(a)/2 - a_lo*exp(-a^2)/sqrt(pi) removes
// it to first order (d erfc/da = -2 exp(-a^2)/sqrt(pi)) -- the catalog's ndtr (_special.py).
// phi(x) = exp(-x^2/2)/sqrt(2 pi) with x^2 = p + e (fma): exp(-(p + e)/2) = exp(-p/2)(1 - e/2).
// Below x = -36 (results within a factor 1e27 of float64's subnormals, where a product of two
// rounded tails would round twice) the x87 80-bit type computes Phi and phi, which stay normal
// there, and the result is rounded once. Within 4 ulp of mpmath (tests/test_contract.py).
namespace f64 {
constexpr double kInvSqrt2Hi = 0.7071067811865476;
constexpr double kInvSqrt2Lo = -4.833646656726457e-17;
constexpr double kInvSqrtPi = 0.5641895835477563;
constexpr double kInvSqrt2Pi = 0.3989422804014327;
constexpr double kTail = -36.0;
constexpr double kClip = 40.0;  // Phi(-40) and phi(40) are 0 in float64: limits, never inf*0
constexpr long double kInvSqrt2L = 0.7071067811865475244008444L;
constexpr long double kInvSqrt2PiL = 0.3989422804014326779399461L;

inline double ndtr(double x) {
  if (!(x <= -1.0)) return 0.5 * std::erfc(-x * kInvSqrt2Hi);  // NaN: NaN
  const double ax = -x;
  const double a = ax * kInvSqrt2Hi;
  const double a_lo = std::fma(ax, kInvSqrt2Hi, -a) + ax * kInvSqrt2Lo;
  return 0.5 * std::erfc(a) - a_lo * (std::exp(-(a * a)) * kInvSqrtPi);
}

inline double pdf(double x) {
  const double p = x * x;
  const double e = std::fma(x, x, -p);
  return std::exp(-0.5 * p) * (1.0 - 0.5 * e) * kInvSqrt2Pi;
}

inline long double ndtr_tail(long double x) { return 0.5L * std::erfc(-x * kInvSqrt2L); }

inline long double pdf_tail(long double x) { return std::exp(-0.5L * (x * x)) * kInvSqrt2PiL; }
}  // namespace f64

inline double gelu_exact_f64(double x) {
  if (x < f64::kTail) {
    const long double c = x > -f64::kClip ? x : -f64::kClip;  // -inf: -40 * Phi(-40) = -0
    return static_cast<double>(c * f64::ndtr_tail(c));
  }
  return x * f64::ndtr(x);  // +inf: inf * 1; NaN: NaN
}

inline double gelu_exact_f64_derivative(double x) {
  if (x < f64::kTail) {
    const long double c = x > -f64::kClip ? x : -f64::kClip;
    return static_cast<double>(f64::ndtr_tail(c) + c * f64::pdf_tail(c));
  }
  const double c = x > f64::kClip ? f64::kClip : x;  // +inf: 1 + 40 * 0; NaN stays NaN
  return f64::ndtr(c) + c * f64::pdf(c);
}

}  // namespace relukit
