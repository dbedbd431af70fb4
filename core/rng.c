/*
 * rng.c - Philox4x32-10 and the uniform and normal deviates built on it, one at a time or
 * a run of positions at once. Stateless on purpose: every value is a pure function of (key,
 * counter), so results never depend on rank, thread or visiting order. No streams live here.
 */
#include <math.h>
#include <string.h>

#include "st.h"

/* Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11, section 3.3: the two round multipliers of Philox4x32 and the Weyl
 * increments of its key schedule (golden ratio, sqrt(3) - 1). */
#define PHILOX_M0     0xD2511F53u
#define PHILOX_M1     0xCD9E8D57u
#define PHILOX_W0     0x9E3779B9u
#define PHILOX_W1     0xBB67AE85u
#define PHILOX_ROUNDS 10

#define RNG_TWO_PI 6.283185307179586476925

/* Blocks computed side by side by philox_lanes. */
#define RNG_LANES 16

/* Layers of the normal ziggurat (a power of two: the layer is the low bits of a word), and
 * Phi(-r), the normal's probability beyond the base layer's edge r = zig_x[1] (mpmath, 40
 * digits). */
#define ZIG_LAYERS    128
#define ZIG_PHI_NEG_R 2.8805425619832079343e-4

void st_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    int r;

    for (r = 0; r < PHILOX_ROUNDS; r++) {
        /* One Philox round (SC'11, section 3.3): two 32x32 -> 64-bit
         * products; the high halves are xored with the other two words and
         * the round key, the low halves pass on, and the words are permuted.
         * The key is bumped after every round (the last bump is unused). */
        uint64_t p0 = (uint64_t)PHILOX_M0 * x0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * x2;
        uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0;
        uint32_t y2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;

        x1 = (uint32_t)p1;
        x3 = (uint32_t)p0;
        x0 = y0;
        x2 = y2;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
}

/* Counter layout shared by everything below: key = (seed low, seed high), counter = (a low,
 * a high, b low, b high). */
void st_rng_block(uint64_t seed, uint64_t a, uint64_t b, uint32_t out[4])
{
    uint32_t key[2], ctr[4];

    key[0] = (uint32_t)seed;
    key[1] = (uint32_t)(seed >> 32);
    ctr[0] = (uint32_t)a;
    ctr[1] = (uint32_t)(a >> 32);
    ctr[2] = (uint32_t)b;
    ctr[3] = (uint32_t)(b >> 32);
    st_philox4x32(ctr, key, out);
}

/* The top 53 bits of the 64-bit word (hi, lo), as an integer k < 2^53. */
static uint64_t rng_bits53(uint32_t hi, uint32_t lo)
{
    return ((uint64_t)hi << 21) | (lo >> 11);
}

/* Words 0 and 1 give k; the value is k / 2^53, so every double of the grid
 * {0, 2^-53, ..., 1 - 2^-53} has probability 2^-53 and 1 is never returned. */
double st_rng_uniform(uint64_t seed, uint64_t a, uint64_t b)
{
    uint32_t w[4];

    st_rng_block(seed, a, b, w);
    return (double)rng_bits53(w[0], w[1]) * 0x1p-53;
}

/* Box and Muller, "A note on the generation of random normal deviates", Ann.
 * Math. Statist. 29 (1958) 610: z = sqrt(-2 ln u1) cos(2 pi u2). u1 is taken
 * at the midpoint of its 2^-53 cell, (k + 1/2) / 2^53, which lies in (0, 1):
 * ln(u1) is finite and |z| <= sqrt(108 ln 2) < 8.7. Only the cosine of the
 * pair is used: one deviate per counter. */
double st_rng_normal(uint64_t seed, uint64_t a, uint64_t b)
{
    uint32_t w[4];
    double u1, u2;

    st_rng_block(seed, a, b, w);
    u1 = ((double)rng_bits53(w[0], w[1]) + 0.5) * 0x1p-53;
    u2 = (double)rng_bits53(w[2], w[3]) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(RNG_TWO_PI * u2);
}

/* --------------------------------------------------------- runs of positions */

/* Blocks (seed, a, b + j) for j = 0 .. RNG_LANES - 1 into out[4 j .. 4 j + 3]: the rounds of
 * st_philox4x32, written lane by lane. One block is a chain of ten dependent rounds whose
 * multiplications wait for each other; the lanes are independent, so the processor overlaps
 * them, which is most of the speed of the run functions. */
static void philox_lanes(uint64_t seed, uint64_t a, uint64_t b, uint32_t *out)
{
    uint32_t x0[RNG_LANES], x1[RNG_LANES], x2[RNG_LANES], x3[RNG_LANES];
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    int r, j;

    for (j = 0; j < RNG_LANES; j++) {
        x0[j] = (uint32_t)a;
        x1[j] = (uint32_t)(a >> 32);
        x2[j] = (uint32_t)(b + (uint64_t)j);
        x3[j] = (uint32_t)((b + (uint64_t)j) >> 32);
    }
    for (r = 0; r < PHILOX_ROUNDS; r++) {
        for (j = 0; j < RNG_LANES; j++) {
            uint64_t p0 = (uint64_t)PHILOX_M0 * x0[j];
            uint64_t p1 = (uint64_t)PHILOX_M1 * x2[j];
            uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1[j] ^ k0;
            uint32_t y2 = (uint32_t)(p0 >> 32) ^ x3[j] ^ k1;

            x1[j] = (uint32_t)p1;
            x3[j] = (uint32_t)p0;
            x0[j] = y0;
            x2[j] = y2;
        }
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    for (j = 0; j < RNG_LANES; j++) {
        out[4 * j] = x0[j];
        out[4 * j + 1] = x1[j];
        out[4 * j + 2] = x2[j];
        out[4 * j + 3] = x3[j];
    }
}

/* Position i is word i % 4 of block i / 4. A whole group of aligned blocks goes from
 * philox_lanes straight to out. Other runs of at least RNG_LANES / 4 blocks go through
 * philox_lanes too, even when they use only some of its blocks: the overlapped lanes cost
 * less than the same blocks one at a time. Shorter runs take one block at a time. */
void st_rng_words(uint64_t seed, uint64_t a, uint64_t first, size_t n, uint32_t *out)
{
    uint32_t w[4 * RNG_LANES];
    uint64_t i = first;
    size_t done = 0, take, avail;
    unsigned off;

    while (done < n) {
        off = (unsigned)(i & 3);
        if (off == 0 && n - done >= 4 * RNG_LANES) {
            philox_lanes(seed, a, i >> 2, out + done);
            take = 4 * RNG_LANES;
        } else {
            if (off + (n - done) >= RNG_LANES) {
                philox_lanes(seed, a, i >> 2, w);
                avail = 4 * RNG_LANES - off;
            } else {
                st_rng_block(seed, a, i >> 2, w);
                avail = 4 - off;
            }
            take = avail < n - done ? avail : n - done;
            memcpy(out + done, w + off, take * sizeof *w);
        }
        done += take;
        i += take;
    }
}

/* Position i is byte i % 16 of block i / 16, taken from word (i % 16) / 4 by shifting, so
 * that the order does not depend on the machine's byte order. Blocks are computed as in
 * st_rng_words. A whole group of aligned blocks is split word by word (compilers merge the
 * four stores into one on little-endian machines), anything else byte by byte. */
void st_rng_bytes(uint64_t seed, uint64_t a, uint64_t first, size_t n, uint8_t *out)
{
    uint32_t w[4 * RNG_LANES];
    uint64_t i = first;
    size_t done = 0, take, avail, j, at;
    unsigned off;

    while (done < n) {
        off = (unsigned)(i & 15);
        if (off + (n - done) >= 4 * RNG_LANES) {
            philox_lanes(seed, a, i >> 4, w);
            avail = 16 * RNG_LANES - off;
        } else {
            st_rng_block(seed, a, i >> 4, w);
            avail = 16 - off;
        }
        take = avail < n - done ? avail : n - done;
        if (off == 0 && take == 16 * RNG_LANES) {
            for (j = 0; j < 4 * RNG_LANES; j++) {
                out[done + 4 * j] = (uint8_t)w[j];
                out[done + 4 * j + 1] = (uint8_t)(w[j] >> 8);
                out[done + 4 * j + 2] = (uint8_t)(w[j] >> 16);
                out[done + 4 * j + 3] = (uint8_t)(w[j] >> 24);
            }
        } else {
            for (j = 0; j < take; j++) {
                at = off + j;
                out[done + j] = (uint8_t)(w[at >> 2] >> (8 * (at & 3)));
            }
        }
        done += take;
        i += take;
    }
}

/* Word 0 of the block (seed, a, ~i): position i's bytes are in blocks i / 16 < 2^59 and its
 * normal's slow path in ~i as well, but one stream serves bytes or normals, never both. */
uint32_t st_rng_tie(uint64_t seed, uint64_t a, uint64_t i)
{
    uint32_t w[4];

    st_rng_block(seed, a, ~i, w);
    return w[0];
}

/* The ziggurat of G. Marsaglia and W. W. Tsang, "The ziggurat method for generating random
 * variables", J. Statist. Software 5(8), 2000, for f(x) = exp(-x^2 / 2) on x >= 0 with 128
 * layers of equal area v = 9.9125630353364611e-3. Layer i >= 1 is the box [0, x[i]] x
 * [f(x[i]), f(x[i + 1])]; layer 0 is the box [0, r] x [0, f(r)] with the tail x > r under f,
 * drawn as the box [0, x[0]] with x[0] = v / f(r). r = x[1] = 3.4426198558966523 makes the
 * recurrence x[i + 1] = f^-1(f(x[i]) + v / x[i]) end at x[128] = 0. Both tables were computed
 * from that recurrence with mpmath at 60 digits (r by bisection) and rounded to double;
 * r and v agree with the paper's 3.442619855899 and 9.91256303526217e-3. */
/* clang-format off */
static const double zig_x[ZIG_LAYERS + 1] = {
    3.7130862467403634, 3.4426198558966523, 3.2230849845786187, 3.0832288582142136,
    2.978696252645017, 2.894344007018671, 2.8231253505459666, 2.761169372384154,
    2.7061135731187225, 2.6564064112581924, 2.610972248428613, 2.569033625921639,
    2.5300096723854666, 2.493454522091951, 2.45901817740835, 2.4264206455302118,
    2.3954342780074676, 2.3658713701139877, 2.337575241335531, 2.310413683695002,
    2.2842740596736566, 2.2590595738653296, 2.234686395587057, 2.211081408874728,
    2.1881804320720204, 2.1659267937448408, 2.1442701823562613, 2.12316570866979,
    2.1025731351849988, 2.0824562379877247, 2.0627822745039635, 2.0435215366506694,
    2.024646973372934, 2.006133869958967, 1.9879595741230607, 1.9701032608497133,
    1.9525457295488888, 1.9352692282919002, 1.9182573008597321, 1.9014946531003176,
    1.8849670357028692, 1.868661140989542, 1.8525645117230871, 1.836665460253384,
    1.8209529965910052, 1.8054167642140488, 1.790046982594619, 1.7748343955807693,
    1.759770224894232, 1.7448461281083765, 1.7300541605582436, 1.7153867407081165,
    1.700836618564301, 1.6863968467734862, 1.6720607540918522, 1.6578219209482075,
    1.6436741568569826, 1.6296114794646783, 1.615628095037133, 1.601718380215277,
    1.5878768648844006, 1.5740982160167498, 1.5603772223598407, 1.5467087798535035,
    1.533087877667556, 1.5195095847593707, 1.5059690368565504, 1.4924614237746154,
    1.4789819769830979, 1.4655259573357946, 1.4520886428822164, 1.4386653166774612,
    1.4252512545068616, 1.4118417124397602, 1.3984319141236063, 1.3850170377251487,
    1.3715922024197322, 1.3581524543224228, 1.344692751745713, 1.3312079496576765,
    1.317692783201343, 1.3041418501204216, 1.290549591917873, 1.2769102735516997,
    1.2632179614460282, 1.2494664995643336, 1.235649483254481, 1.2217602305309625,
    1.2077917504067577, 1.1937367078237722, 1.1795873846544607, 1.1653356361550469,
    1.150972842138976, 1.1364898520030755, 1.121876922572254, 1.1071236475235353,
    1.0922188768965537, 1.0771506248819376, 1.0619059636836194, 1.0464709007525803,
    1.0308302360564556, 1.0149673952392995, 0.9988642334806435, 0.9825008035027604,
    0.9658550793881306, 0.9489026254979119, 0.9316161966013539, 0.9139652510088018,
    0.8959153525662386, 0.8774274290977156, 0.8584568431780508, 0.8389522142812075,
    0.8188539066833177, 0.7980920606262748, 0.7765839878761484, 0.75423066443451,
    0.7309119106218813, 0.706479611313608, 0.6807479186459042, 0.6534786387150424,
    0.6243585973090883, 0.592962942441978, 0.558692178375518, 0.5206560387251449,
    0.47743783725378786, 0.42654798630330515, 0.3628714310284183, 0.2723208647046638,
    0.0,
};

/* zig_f[i] = f(zig_x[i]). */
static const double zig_f[ZIG_LAYERS + 1] = {
    0.0010143525641286154, 0.0026696290839025036, 0.00554899522081647, 0.008624484412930471,
    0.011839478657982313, 0.015167298010672042, 0.018592102737165814, 0.022103304616111593,
    0.025693291936149616, 0.02935631744025383, 0.03308788614650515, 0.03688438878696877,
    0.040742868074790606, 0.04466086220087243, 0.048636295860284055, 0.05266740190350317,
    0.05675266348153858, 0.060890770348566374, 0.06508058521363187, 0.06932111739418026,
    0.07361150188475489, 0.07795098251465471, 0.08233889824295741, 0.08677467189554297,
    0.09125780082763471, 0.09578784912257815, 0.10036444102954555, 0.10498725541035454,
    0.10965602101581776, 0.11437051244988827, 0.11913054670871859, 0.12393598020398175,
    0.12878670619710397, 0.13368265258464765, 0.13862377998585104, 0.143610080091933,
    0.14864157424369698, 0.15371831220958657, 0.15884037114093508, 0.16400785468492773,
    0.16922089223892475, 0.17447963833240232, 0.17978427212496212, 0.18513499701071343,
    0.19053204032091373, 0.1959756531181104, 0.20146611007620324, 0.2070037094418738,
    0.2125887730737361, 0.2182216465563706, 0.2239026993871339, 0.22963232523430271,
    0.23541094226572765, 0.24123899354775133, 0.24711694751469673, 0.25304529850976587,
    0.25902456739871077, 0.26505530225816193, 0.2711380791410253, 0.27727350292189773,
    0.28346220822601254, 0.2897048604458105, 0.2960021568498558, 0.30235482778947975,
    0.30876363800925194, 0.31522938806815753, 0.3217529158792086, 0.3283350983761524,
    0.33497685331697113, 0.3416791412350137, 0.3484429675498725, 0.35526938485154713,
    0.3621594953730332, 0.36911445366827517, 0.3761354695144544, 0.3832238110598836,
    0.3903808082413895, 0.39760785649804253, 0.40490642081148837, 0.4122780401070246,
    0.41972433205403825, 0.4272469983095624, 0.4348478302546619, 0.4425287152802466,
    0.450291643686927, 0.45813871627287195, 0.466072152694571, 0.4740943006982496,
    0.4822076463348387, 0.4904148252893216, 0.49871863547658435, 0.5071220510813046,
    0.515628238249872, 0.5242405726789928, 0.5329626593899875, 0.5417983550317241,
    0.5507517931210553, 0.5598274127106948, 0.5690299910747216, 0.5783646811267024,
    0.5878370544418206, 0.5974531509518123, 0.6072195366326049, 0.6171433708265625,
    0.6272324852578146, 0.6374954773431448, 0.6479418211185508, 0.6585820000586536,
    0.6694276673577062, 0.6804918410064144, 0.6917891434460358, 0.7033360990258174,
    0.7151515074204771, 0.7272569183545059, 0.7396772436833382, 0.7524415591857038,
    0.7655841739092359, 0.7791460859417032, 0.7931770117838592, 0.8077382946961211,
    0.822907211395262, 0.8387836053106472, 0.8555006078850643, 0.8732430489268536,
    0.8922816508023027, 0.9130436479920381, 0.936282681708371, 0.9635996931557675,
    1.0,
};
/* clang-format on */

/* The slow path of position i, taken when the fast test failed for layer `layer` and
 * x = u x[layer]: it reads the block (seed, a, ~i), which no position's fast path uses (those
 * are blocks i / 4 < 2^61). Layer 0: x lies beyond r, in the part of the box that stands for
 * the tail, so the result is a tail deviate, by inversion: Phi^-1(q Phi(-r)) with q from
 * word 0, at the midpoint of its 2^-32 cell; |x| < 7.5 since q >= 2^-33. Other layers: the
 * point (x, y), y uniform in the layer's height (word 0), is under f with probability the
 * wedge test measures; if it is, x is the deviate. If it is not, the ziggurat proposal is
 * rejected, and a rejection sampler's result after a rejection is a fresh draw from the same
 * law: any exact normal deviate may take its place. That is Box-Muller on the words 1 to 3,
 * u1 = (53 bits + 1/2) / 2^53 and u2 = 32 bits / 2^32, so that |z| < 8.7 as for
 * st_rng_normal. The sign of the first two cases is the fast path's sign bit; Box-Muller's
 * own deviate is symmetric already. */
static double zig_slow(uint64_t seed, uint64_t a, uint64_t i, unsigned layer, double x, int neg)
{
    uint32_t w[4];
    double z, y, u1;

    st_rng_block(seed, a, ~i, w);
    if (layer == 0) {
        z = -st_norm_quantile(((double)w[0] + 0.5) * 0x1p-32 * ZIG_PHI_NEG_R);
        z = neg ? -z : z;
    } else {
        y = zig_f[layer] + (double)w[0] * 0x1p-32 * (zig_f[layer + 1] - zig_f[layer]);
        if (y < exp(-0.5 * x * x)) {
            z = neg ? -x : x;
        } else {
            u1 = ((double)rng_bits53(w[1], w[2]) + 0.5) * 0x1p-53;
            z = sqrt(-2.0 * log(u1)) * cos(RNG_TWO_PI * (double)w[3] * 0x1p-32);
        }
    }
    return z;
}

/* Position i's word w of st_rng_words gives the layer (bits 0-6), the sign (bit 7) and
 * u = ((w >> 8) + 1/2) / 2^24 (bits 8-31): separate bits, so the layer and the abscissa are
 * independent (Doornik, "An improved ziggurat method to generate normal random samples",
 * 2005, on the original's reuse of the same bits). u is the middle of its 2^-24 cell, so no
 * deviate is exactly 0 (a raw gradient of 0 would turn a natural non-zero into a zero).
 * x = u x[layer] is accepted at once when it lies in the part of the layer that is under f
 * everywhere, x < x[layer + 1]: that is 97.2% of the positions (the mean of
 * x[i + 1] / x[i]). */
void st_rng_normals(uint64_t seed, uint64_t a, uint64_t first, size_t n, double *out)
{
    /* The fast path has no branch (a branch on a random bit is mispredicted half the time):
     * the sign multiplies, and the positions that fail are listed for a second loop. */
    static const double sign[2] = {1.0, -1.0};
    uint32_t w[4 * RNG_LANES];
    unsigned slow[4 * RNG_LANES], nslow, j, k, len, layer;
    size_t done;
    double x;

    for (done = 0; done < n; done += len) {
        len = n - done < 4 * RNG_LANES ? (unsigned)(n - done) : 4 * RNG_LANES;
        st_rng_words(seed, a, first + done, len, w);
        nslow = 0;
        for (k = 0; k < len; k++) {
            layer = w[k] & (ZIG_LAYERS - 1);
            x = ((double)(w[k] >> 8) + 0.5) * 0x1p-24 * zig_x[layer];
            slow[nslow] = k;
            nslow += x >= zig_x[layer + 1];
            out[done + k] = x * sign[(w[k] >> 7) & 1];
        }
        for (j = 0; j < nslow; j++) {
            k = slow[j];
            layer = w[k] & (ZIG_LAYERS - 1);
            x = ((double)(w[k] >> 8) + 0.5) * 0x1p-24 * zig_x[layer];
            out[done + k] = zig_slow(seed, a, first + done + k, layer, x, (w[k] >> 7) & 1);
        }
    }
}
