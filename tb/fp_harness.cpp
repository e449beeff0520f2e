// Checks a Verilated floating-point unit against the host CPU's IEEE 754 arithmetic.
//
// The model (top module `fp_lanes`, built by dcom.tb.fp_exhaustive) holds DCOM_LANES copies of
// one unit side by side, so that one evaluation checks DCOM_LANES vectors. A combinational
// unit is evaluated once; the multi-cycle scalar unit (sqrt_fp32, recip_fp32) is started in
// every lane at once and clocked until its done, which must come exactly DCOM_LATENCY cycles
// after the start, in every lane, and not before. The build defines:
//   DCOM_UNIT      0 mul_fp32, 1 mul_fp16, 2 add_fp16, 3 add_fp32, 4 widen, 5 narrow,
//                  6 sqrt_fp32, 7 recip_fp32
//   DCOM_LANES     lanes of the model (even, at least 8)
//   DCOM_ARITY     operands of the unit (1 or 2; a one-operand model has no port b)
//   DCOM_LATENCY   cycles from start to done of the scalar unit (0 or undefined for the others)
//
// Expected values come from the host: a product of two halves is exact in float, so rounding
// it to _Float16 is a single rounding; a sum of two halves rounded first to float (24 bits)
// then to half is still correctly rounded since 24 >= 2 * 11 + 2. Square roots and
// reciprocals are the host's sqrtf and 1.0f / x, both correctly rounded. Every NaN is replaced
// by the canonical quiet NaN the hardware must output.
//
// Usage: fp_harness MODE START COUNT SEED THREADS SHOW
//   MODE exhaustive: vector i is (i >> 16, i & 0xffff) for two FP16 operands, else i itself.
//   MODE sample: vector i is drawn from (SEED, i) by a counter-based generator; odd i are
//     uniform bit patterns, even i cycle through every pair of special classes and the
//     relational cases (near-ties, massive cancellation, alignment boundaries).
//   THREADS Verilated models, one per thread, each checking a slice of [START, START+COUNT).
//   SHOW   mismatches to print.
// Exit status: 0 when every vector matched, 1 on any mismatch, 2 on bad usage.

#include "Vfp_lanes.h"
#include "verilated.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#ifndef DCOM_LATENCY
#define DCOM_LATENCY 0
#endif

namespace {

enum Unit { MUL_FP32, MUL_FP16, ADD_FP16, ADD_FP32, WIDEN, NARROW, SQRT_FP32, RECIP_FP32 };
constexpr Unit kUnit = static_cast<Unit>(DCOM_UNIT);
constexpr int kLanes = DCOM_LANES;
static_assert(kLanes % 2 == 0 && kLanes >= 8, "lanes must be even and at least 8");

constexpr bool kScalar = kUnit == SQRT_FP32 || kUnit == RECIP_FP32;
static_assert(kScalar == (DCOM_LATENCY > 0), "only the scalar unit is clocked");
constexpr bool kFp32In = kUnit == ADD_FP32 || kUnit == NARROW || kScalar;
constexpr bool kFp32Out = kUnit == MUL_FP32 || kUnit == ADD_FP32 || kUnit == WIDEN || kScalar;
constexpr bool kBinary = DCOM_ARITY == 2;
static_assert(kBinary == (kUnit != WIDEN && kUnit != NARROW && !kScalar),
              "arity does not match the unit");
constexpr uint32_t kQuietNan16 = 0x7E00;
constexpr uint32_t kQuietNan32 = 0x7FC00000;

struct Format {
    int man_bits, exp_bits;
    uint32_t sign() const { return 1u << (man_bits + exp_bits); }
    uint32_t exp_max() const { return (1u << exp_bits) - 1; }
    uint32_t man_mask() const { return (1u << man_bits) - 1; }
    uint32_t bias() const { return (1u << (exp_bits - 1)) - 1; }
    uint32_t pack(uint32_t exp, uint32_t man) const {
        return (exp << man_bits) | (man & man_mask());
    }
};
constexpr Format kIn = kFp32In ? Format{23, 8} : Format{10, 5};

float half_table[1 << 16];  // every half widened to float (exact)

inline float from_half(uint32_t h) { return half_table[h & 0xFFFF]; }

inline float from_bits(uint32_t x) {
    float f;
    std::memcpy(&f, &x, 4);
    return f;
}

inline uint32_t bits_of(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    return std::isnan(f) ? kQuietNan32 : x;
}

// Rounding float to half: x86's F16C instruction where the CPU has it (libgcc's software
// conversion would take most of the run time), else the compiler's _Float16 conversion.
#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t round_to_half_f16c(float f) {
    return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
const bool kHaveF16c = __builtin_cpu_supports("f16c");
#endif

inline uint32_t half_bits_of(float f) {
    if (std::isnan(f)) return kQuietNan16;
#if defined(__x86_64__)
    if (kHaveF16c) return round_to_half_f16c(f);
#endif
    _Float16 h = static_cast<_Float16>(f);
    uint16_t x;
    std::memcpy(&x, &h, 2);
    return x;
}

inline uint32_t reference(uint32_t a, uint32_t b) {
    switch (kUnit) {
    case MUL_FP32: return bits_of(from_half(a) * from_half(b));
    case MUL_FP16: return half_bits_of(from_half(a) * from_half(b));
    case ADD_FP16: return half_bits_of(from_half(a) + from_half(b));
    case ADD_FP32: return bits_of(from_bits(a) + from_bits(b));
    case WIDEN: return bits_of(from_half(a));
    case NARROW: return half_bits_of(from_bits(a));
    case SQRT_FP32: return bits_of(std::sqrt(from_bits(a)));
    case RECIP_FP32: return bits_of(1.0f / from_bits(a));
    }
    return 0;
}

// Counter-based generator: vector i of a run depends only on (seed, i), whatever the threads.
inline uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

struct Random {
    uint64_t state;
    uint32_t next() { return static_cast<uint32_t>((state = splitmix64(state)) >> 32); }
    uint32_t below(uint32_t n) { return static_cast<uint32_t>((uint64_t(next()) * n) >> 32); }
};

// Classes of single values; every pair of them is drawn in sample mode.
enum Class {
    ZERO, MIN_SUBNORMAL, MAX_SUBNORMAL, SUBNORMAL, MIN_NORMAL, MAX_NORMAL, LOW_NORMAL,
    HIGH_NORMAL, NORMAL, INFINITY_, NAN_, NEAR_ONE, UNIFORM, CLASS_COUNT
};

uint32_t draw(Class c, Random& r) {
    const Format f = kIn;
    const uint32_t sign = r.below(2) ? f.sign() : 0;
    const uint32_t man = r.next() & f.man_mask();
    const uint32_t top = f.exp_max() - 1;
    switch (c) {
    case ZERO: return sign;
    case MIN_SUBNORMAL: return sign | 1;
    case MAX_SUBNORMAL: return sign | f.man_mask();
    case SUBNORMAL: return sign | (man ? man : 1);
    case MIN_NORMAL: return sign | f.pack(1, r.below(4) ? 0 : man);
    case MAX_NORMAL: return sign | f.pack(top, r.below(4) ? f.man_mask() : man);
    case LOW_NORMAL: return sign | f.pack(1 + r.below(f.man_bits + 3), man);
    case HIGH_NORMAL: return sign | f.pack(top - r.below(f.man_bits + 3), man);
    case NORMAL: return sign | f.pack(1 + r.below(top), man);
    case INFINITY_: return sign | f.pack(f.exp_max(), 0);
    case NAN_: return sign | f.pack(f.exp_max(), man ? man : 1);
    case NEAR_ONE: {
        const uint32_t one = f.pack(f.bias(), 0);
        return sign | (one + r.below(17) - 8);
    }
    case UNIFORM: default: return r.next() & (f.sign() | (f.sign() - 1));
    }
}

// Pairs defined by a relation between the operands, where adders round or cancel.
enum Relation { CANCEL, NEAR_TIE, SAME_EXPONENT, FAR_APART, RELATION_COUNT };

void draw_related(Relation rel, Random& r, uint32_t& a, uint32_t& b) {
    const Format f = kIn;
    const uint32_t sig_bits = f.man_bits + 1;
    const uint32_t exp_a = 1 + r.below(f.exp_max() - 1);
    a = (r.below(2) ? f.sign() : 0) | f.pack(exp_a, r.next());
    const uint32_t sign_b = r.below(2) ? f.sign() : 0;
    switch (rel) {
    case CANCEL:  // b is -a moved by a few ULPs: the sum loses most of its bits
        b = ((a ^ f.sign()) + r.below(17) - 8) & (f.sign() | (f.sign() - 1));
        return;
    case NEAR_TIE: {  // the bits of b shifted out below a's LSB are half an ULP, or just off it
        const uint32_t d = 1 + r.below(sig_bits);
        const uint32_t exp_b = exp_a > d ? exp_a - d : 0;
        const uint32_t sig = (1u << f.man_bits) | (r.next() & f.man_mask());
        const uint32_t low = (1u << (d - 1)) + r.below(3) - 1;
        const uint32_t mask = (d >= 32) ? ~0u : (1u << d) - 1;
        const uint32_t man = (sig & ~mask) | (low & mask);
        b = sign_b | (exp_b ? f.pack(exp_b, man) : (man & f.man_mask()));
        return;
    }
    case SAME_EXPONENT:
        b = sign_b | f.pack(exp_a, r.next());
        return;
    case FAR_APART: default: {  // exponent gap around the width of the aligned significand
        const uint32_t d = sig_bits - 1 + r.below(5);
        b = sign_b | (exp_a > d ? f.pack(exp_a - d, r.next()) : (r.next() & f.man_mask()));
        return;
    }
    }
}

void sample(uint64_t seed, uint64_t i, uint32_t& a, uint32_t& b) {
    Random r{splitmix64(seed ^ splitmix64(i))};
    const uint32_t all = kIn.sign() | (kIn.sign() - 1);
    if (i & 1) {
        a = r.next() & all;
        b = r.next() & all;
        return;
    }
    const uint64_t k = i >> 1;
    if (!kBinary) {
        a = draw(static_cast<Class>(k % CLASS_COUNT), r);
        b = 0;
        return;
    }
    const uint64_t pairs = uint64_t(CLASS_COUNT) * CLASS_COUNT;
    const uint64_t p = k % (pairs + RELATION_COUNT);
    if (p < pairs) {
        a = draw(static_cast<Class>(p / CLASS_COUNT), r);
        b = draw(static_cast<Class>(p % CLASS_COUNT), r);
    } else {
        draw_related(static_cast<Relation>(p - pairs), r, a, b);
    }
}

// The model's ports are arrays of 32-bit words; a lane is a half word or a whole word.
template <bool Wide, typename Port>
inline void write_lanes(Port& port, const uint32_t* v) {
    if constexpr (Wide) {
        for (int j = 0; j < kLanes; ++j) port[j] = v[j];
    } else {
        for (int j = 0; j < kLanes / 2; ++j) port[j] = v[2 * j] | (v[2 * j + 1] << 16);
    }
}

template <bool Wide, typename Port>
inline void read_lanes(const Port& port, uint32_t* v) {
    if constexpr (Wide) {
        for (int j = 0; j < kLanes; ++j) v[j] = port[j];
    } else {
        for (int j = 0; j < kLanes / 2; ++j) {
            v[2 * j] = port[j] & 0xFFFF;
            v[2 * j + 1] = port[j] >> 16;
        }
    }
}

struct Mismatch {
    uint64_t index;
    uint32_t a, b, expected, got;
    bool on_time;  // the scalar unit's done came exactly when due
};

#if DCOM_LATENCY
// One clock cycle: a rising edge, then the clock low again.
inline void clock(Vfp_lanes& model) {
    model.clk = 1;
    model.eval();
    model.clk = 0;
    model.eval();
}

void reset(Vfp_lanes& model) {
    model.rst = 1;
    clock(model);
    model.rst = 0;
}

// Starts every lane on its operand and clocks the model to the done cycle; returns whether
// every lane's done came then and none came before.
bool evaluate(Vfp_lanes& model) {
    model.op = kUnit == RECIP_FP32;
    model.start = 1;
    clock(model);
    model.start = 0;
    bool early = false;
    for (int cycle = 1; cycle < DCOM_LATENCY; ++cycle) {
        early |= model.done_any;
        clock(model);
    }
    return !early && model.done_all;
}
#else
void reset(Vfp_lanes&) {}

bool evaluate(Vfp_lanes& model) {
    model.eval();
    return true;
}
#endif

struct Slice {
    uint64_t begin, end;
    uint64_t mismatches = 0;
    std::vector<Mismatch> shown;
};

std::atomic<uint64_t> checked{0};

void check_slice(bool exhaustive, uint64_t seed, size_t show, Slice& s) {
    auto context = std::make_unique<VerilatedContext>();
    auto model = std::make_unique<Vfp_lanes>(context.get());
    uint32_t a[kLanes], b[kLanes], got[kLanes];
    reset(*model);
    for (uint64_t base = s.begin; base < s.end; base += kLanes) {
        const int n = static_cast<int>(std::min<uint64_t>(kLanes, s.end - base));
        for (int k = 0; k < kLanes; ++k) {
            const uint64_t i = base + (k < n ? k : 0);
            if (!exhaustive) {
                sample(seed, i, a[k], b[k]);
            } else if (kBinary) {
                a[k] = static_cast<uint32_t>(i >> 16);
                b[k] = static_cast<uint32_t>(i & 0xFFFF);
            } else {
                a[k] = static_cast<uint32_t>(i);
                b[k] = 0;
            }
        }
        write_lanes<kFp32In>(model->a, a);
#if DCOM_ARITY == 2
        write_lanes<kFp32In>(model->b, b);
#endif
        const bool on_time = evaluate(*model);
        read_lanes<kFp32Out>(model->y, got);
        for (int k = 0; k < n; ++k) {
            const uint32_t expected = reference(a[k], b[k]);
            if (__builtin_expect(got[k] != expected || !on_time, 0)) {
                if (s.shown.size() < show)
                    s.shown.push_back({base + k, a[k], b[k], expected, got[k], on_time});
                ++s.mismatches;
            }
        }
        checked.fetch_add(n, std::memory_order_relaxed);
    }
    model->final();
}

const char* const kUnitNames[] = {"mul_fp32", "mul_fp16", "add_fp16",  "add_fp32",
                                  "widen",    "narrow",   "sqrt_fp32", "recip_fp32"};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 7) {
        std::fprintf(stderr, "usage: %s exhaustive|sample START COUNT SEED THREADS SHOW\n",
                     argv[0]);
        return 2;
    }
    const std::string mode = argv[1];
    const uint64_t start = std::strtoull(argv[2], nullptr, 0);
    const uint64_t count = std::strtoull(argv[3], nullptr, 0);
    const uint64_t seed = std::strtoull(argv[4], nullptr, 0);
    const int threads = std::max(1, std::atoi(argv[5]));
    const size_t show = std::strtoull(argv[6], nullptr, 0);
    if (mode != "exhaustive" && mode != "sample") {
        std::fprintf(stderr, "mode must be exhaustive or sample, not %s\n", mode.c_str());
        return 2;
    }
    if (mode == "exhaustive" && kBinary && kFp32In) {
        std::fprintf(stderr, "exhaustive mode needs FP16 operands or one operand\n");
        return 2;
    }
    const uint64_t space = uint64_t(1) << (kBinary ? 32 : (kFp32In ? 32 : 16));
    if (mode == "exhaustive" && (start > space || count > space - start)) {
        std::fprintf(stderr, "exhaustive vectors end at %" PRIu64 "\n", space);
        return 2;
    }
    for (uint32_t h = 0; h < (1u << 16); ++h) {
        const uint16_t x = static_cast<uint16_t>(h);
        _Float16 v;
        std::memcpy(&v, &x, 2);
        half_table[h] = static_cast<float>(v);
    }

    const auto t0 = std::chrono::steady_clock::now();
    std::vector<Slice> slices(threads);
    const uint64_t per = (count + threads - 1) / threads;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        slices[t].begin = start + std::min(count, per * t);
        slices[t].end = start + std::min(count, per * (t + 1));
        workers.emplace_back(check_slice, mode == "exhaustive", seed, show, std::ref(slices[t]));
    }
    // A line on stderr every minute shows that a long run is moving.
    std::atomic<bool> done{false};
    std::thread progress([&] {
        auto last = std::chrono::steady_clock::now();
        while (!done.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            const auto now = std::chrono::steady_clock::now();
            if (now - last >= std::chrono::seconds(60)) {
                last = now;
                std::fprintf(stderr, "progress: %" PRIu64 " of %" PRIu64 " vectors\n",
                             checked.load(), count);
            }
        }
    });
    for (auto& w : workers) w.join();
    done = true;
    progress.join();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - t0;
    const double seconds = elapsed.count();

    uint64_t mismatches = 0;
    std::vector<Mismatch> shown;
    for (const auto& s : slices) {
        mismatches += s.mismatches;
        shown.insert(shown.end(), s.shown.begin(), s.shown.end());
    }
    std::sort(shown.begin(), shown.end(),
              [](const Mismatch& x, const Mismatch& y) { return x.index < y.index; });
    if (shown.size() > show) shown.resize(show);
    for (const auto& m : shown) {
        if (kBinary)
            std::printf("mismatch: vector %" PRIu64
                        " a=0x%08x b=0x%08x expected=0x%08x got=0x%08x\n",
                        m.index, m.a, m.b, m.expected, m.got);
        else
            std::printf("mismatch: vector %" PRIu64 " a=0x%08x expected=0x%08x got=0x%08x%s\n",
                        m.index, m.a, m.expected, m.got, m.on_time ? "" : " (done not on time)");
    }
    const uint64_t total = checked.load();
    std::printf("result: unit=%s mode=%s vectors=%" PRIu64 " mismatches=%" PRIu64
                " seconds=%.3f vectors_per_second=%.0f threads=%d lanes=%d\n",
                kUnitNames[kUnit], mode.c_str(), total, mismatches, seconds,
                seconds > 0 ? total / seconds : 0.0, threads, kLanes);
    return mismatches ? 1 : 0;
}
