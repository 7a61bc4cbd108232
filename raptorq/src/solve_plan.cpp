// Inactivation decoding compiled to a program of symbol operations. See solve_plan.hpp.

#include "solve_plan.hpp"

#include <algorithm>
#include <cstring>

#include "gf256.hpp"
#include "rfc_tables.hpp"

namespace nextmini::raptorq::detail {
namespace {

enum ColumnState : std::uint8_t { kActive = 0, kPivot = 1, kInactive = 2 };

// Compressed sparse rows of a binary matrix.
struct SparseRows {
  std::vector<std::uint32_t> start{0};
  std::vector<std::uint32_t> cols;

  // Appends a row; a column listed twice cancels (GF(2) sum).
  void add(std::vector<std::uint32_t>& row) {
    std::sort(row.begin(), row.end());
    for (std::size_t i = 0; i < row.size();) {
      if (i + 1 < row.size() && row[i] == row[i + 1]) {
        i += 2;
      } else {
        cols.push_back(row[i]);
        ++i;
      }
    }
    start.push_back(static_cast<std::uint32_t>(cols.size()));
  }
  // Appends a row whose columns are known to be distinct.
  void add_distinct(const std::vector<std::uint32_t>& row) {
    cols.insert(cols.end(), row.begin(), row.end());
    start.push_back(static_cast<std::uint32_t>(cols.size()));
  }
  std::span<const std::uint32_t> row(std::uint32_t r) const {
    return {cols.data() + start[r], cols.data() + start[r + 1]};
  }
  std::uint32_t size() const { return static_cast<std::uint32_t>(start.size() - 1); }
};

// A dense elimination step on the small system: row dst ^= coef * row src, or row dst *= coef.
struct DenseOp {
  std::uint32_t dst;
  std::uint32_t src;
  bool scale;
  std::uint8_t coef;
};

// kExpand[b] holds bit i of b as byte i (0 or 1): turns 8 bits of a GF(2) vector into 8 bytes.
struct ExpandTable {
  std::uint64_t value[256];
};
constexpr ExpandTable make_expand_table() {
  ExpandTable t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint64_t v = 0;
    for (std::uint32_t i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>((b >> i) & 1u) << (8 * i);
    t.value[b] = v;
  }
  return t;
}
constexpr ExpandTable kExpand = make_expand_table();

// out[0..u) ^= the bits of z (u bits) as 0/1 bytes. out has room for u rounded up to 8.
void xor_bits_as_bytes(std::uint8_t* out, const std::uint64_t* z, std::uint32_t u) {
  for (std::uint32_t i = 0; i < u; i += 8) {
    const auto byte = static_cast<std::uint8_t>(z[i / 64] >> (i % 64));
    if (byte == 0) continue;
    std::uint64_t word;
    std::memcpy(&word, out + i, 8);
    word ^= kExpand.value[byte];
    std::memcpy(out + i, &word, 8);
  }
}

}  // namespace

std::optional<SolvePlan> SolvePlan::build(const BlockParameters& params,
                                          std::span<const std::uint32_t> isis) {
  const std::uint32_t s = params.s;
  const std::uint32_t h = params.h;
  const std::uint32_t l = params.l;
  const std::uint32_t w = params.w;
  const std::uint32_t p = params.p;
  const std::uint32_t ks = params.k_prime + s;
  const auto n = static_cast<std::uint32_t>(isis.size());
  if (n < params.k_prime) return std::nullopt;

  // --- The sparse part of A: S LDPC rows (section 5.3.3.3), then one LT row per ISI.
  SparseRows rows;
  rows.cols.reserve(3 * static_cast<std::size_t>(params.b) + 3 * s +
                    static_cast<std::size_t>(n) * 10);
  rows.start.reserve(static_cast<std::size_t>(s) + n + 1);
  {
    std::vector<std::vector<std::uint32_t>> ldpc(s);
    for (std::uint32_t i = 0; i < params.b; ++i) {
      const std::uint32_t a = 1 + i / s;
      std::uint32_t b = i % s;
      ldpc[b].push_back(i);
      b = (b + a) % s;
      ldpc[b].push_back(i);
      b = (b + a) % s;
      ldpc[b].push_back(i);
    }
    for (std::uint32_t i = 0; i < s; ++i) {
      ldpc[i].push_back(params.b + i);
      ldpc[i].push_back(w + i % p);
      ldpc[i].push_back(w + (i + 1) % p);
    }
    for (auto& row : ldpc) rows.add(row);
    std::vector<std::uint32_t> row;
    for (std::uint32_t isi : isis) {
      row.clear();
      for_each_tuple_column(params, make_tuple(params, isi),
                            [&](std::uint32_t c) { row.push_back(c); });
      // LT neighbours are distinct (W prime, d < W), PI neighbours too (P1 prime), and the
      // two ranges do not overlap.
      // Sorted, so sums read the intermediate symbols in address order.
      std::sort(row.begin(), row.end());
      rows.add_distinct(row);
    }
  }
  const std::uint32_t r_count = rows.size();

  // Column -> rows (CSR).
  std::vector<std::uint32_t> col_start(l + 1, 0);
  for (std::uint32_t c : rows.cols) ++col_start[c + 1];
  for (std::uint32_t c = 0; c < l; ++c) col_start[c + 1] += col_start[c];
  std::vector<std::uint32_t> col_rows(rows.cols.size());
  {
    std::vector<std::uint32_t> fill(col_start.begin(), col_start.end() - 1);
    for (std::uint32_t r = 0; r < r_count; ++r) {
      for (std::uint32_t c : rows.row(r)) col_rows[fill[c]++] = r;
    }
  }

  // --- Peeling with inactivation over the non-HDPC rows. PI columns start inactive.
  std::vector<std::uint8_t> state(l, kActive);
  for (std::uint32_t c = w; c < l; ++c) state[c] = kInactive;
  std::vector<std::uint32_t> count(r_count, 0);
  std::uint32_t max_count = 0;
  for (std::uint32_t r = 0; r < r_count; ++r) {
    for (std::uint32_t c : rows.row(r)) count[r] += state[c] == kActive ? 1 : 0;
    max_count = std::max(max_count, count[r]);
  }
  std::vector<std::vector<std::uint32_t>> buckets(max_count + 1);
  for (std::uint32_t r = 0; r < r_count; ++r) {
    if (count[r] > 0) buckets[count[r]].push_back(r);
  }
  std::vector<std::uint8_t> used(r_count, 0);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pivots;  // (row, column) in order
  pivots.reserve(l);
  std::vector<std::uint32_t> active;
  std::uint32_t min_bucket = 1;
  for (;;) {
    std::uint32_t chosen = r_count;
    while (min_bucket <= max_count && chosen == r_count) {
      auto& bucket = buckets[min_bucket];
      if (bucket.empty()) {
        ++min_bucket;
        continue;
      }
      const std::uint32_t r = bucket.back();
      bucket.pop_back();
      if (!used[r] && count[r] == min_bucket) chosen = r;
    }
    if (chosen == r_count) break;
    active.clear();
    for (std::uint32_t c : rows.row(chosen)) {
      if (state[c] == kActive) active.push_back(c);
    }
    // Every active column of the row leaves the active set now (one as the pivot, the others
    // inactivated), so the choice does not change the peeling; take the column in most rows.
    std::uint32_t pivot = active[0];
    if (active.size() > 1) {
      std::uint32_t best = 0;
      for (std::uint32_t c : active) {
        const std::uint32_t degree = col_start[c + 1] - col_start[c];
        if (degree > best) {
          best = degree;
          pivot = c;
        }
      }
    }
    used[chosen] = 1;
    for (std::uint32_t c : active) {
      state[c] = c == pivot ? kPivot : kInactive;
      for (std::uint32_t i = col_start[c]; i < col_start[c + 1]; ++i) {
        const std::uint32_t q = col_rows[i];
        if (used[q]) continue;
        --count[q];
        if (count[q] > 0) {
          buckets[count[q]].push_back(q);
          min_bucket = std::min(min_bucket, count[q]);
        }
      }
    }
    pivots.emplace_back(chosen, pivot);
  }
  std::vector<std::uint32_t> inactive_cols;
  for (std::uint32_t c = 0; c < l; ++c) {
    if (state[c] == kActive) state[c] = kInactive;
    if (state[c] == kInactive) inactive_cols.push_back(c);
  }
  const auto u = static_cast<std::uint32_t>(inactive_cols.size());
  const std::uint32_t words = (u + 63) / 64;

  // --- Each column as (symbol Y, GF(2) vector Z over the inactive columns): C = Y + Z . C_I.
  std::vector<std::uint64_t> z(static_cast<std::size_t>(l) * words, 0);
  auto z_of = [&](std::uint32_t c) { return z.data() + static_cast<std::size_t>(c) * words; };
  for (std::uint32_t j = 0; j < u; ++j) z_of(inactive_cols[j])[j / 64] |= 1ull << (j % 64);

  SolvePlan plan;
  plan.num_inputs_ = n;
  plan.l_ = l;
  plan.inactive_ = u;
  auto& ops = plan.ops_;
  ops.reserve(pivots.size() * 2 + static_cast<std::size_t>(ks) * 4 +
              static_cast<std::size_t>(u) * u);
  plan.terms_.reserve(rows.cols.size() * 2);
  auto c_slot = [&](std::uint32_t c) { return n + c; };
  const std::uint32_t acc_slot = n + l;
  auto emit = [&](OpKind kind, std::uint32_t dst, std::uint32_t src, std::uint8_t coef = 0) {
    ops.push_back(SymbolOp{dst, src, 0, kind, coef});
  };
  // dst = XOR of the slots in `terms` (none: zero), in one pass.
  auto emit_sum = [&](std::uint32_t dst, const std::vector<std::uint32_t>& terms) {
    if (terms.empty()) {
      emit(OpKind::kZero, dst, 0);
    } else if (terms.size() == 1) {
      emit(OpKind::kCopy, dst, terms[0]);
    } else {
      ops.push_back(SymbolOp{dst, static_cast<std::uint32_t>(plan.terms_.size()),
                             static_cast<std::uint32_t>(terms.size()), OpKind::kSum, 0});
      plan.terms_.insert(plan.terms_.end(), terms.begin(), terms.end());
    }
  };
  std::vector<std::uint32_t> terms;
  // Starts `terms` with row r's right-hand side: the received symbol of an LT row; LDPC rows
  // have zero.
  auto start_terms = [&](std::uint32_t r) {
    terms.clear();
    if (r >= s) terms.push_back(r - s);
  };

  // Forward pass: Y of each pivot column (written into its C slot) and its Z.
  for (const auto& [r, pc] : pivots) {
    start_terms(r);
    std::uint64_t* zp = z_of(pc);
    for (std::uint32_t c : rows.row(r)) {
      if (c == pc) continue;
      if (state[c] == kPivot) terms.push_back(c_slot(c));
      const std::uint64_t* zc = z_of(c);
      for (std::uint32_t i = 0; i < words; ++i) zp[i] ^= zc[i];
    }
    emit_sum(c_slot(pc), terms);
  }

  // --- The dense system over the inactive columns: leftover binary rows, then the HDPC rows.
  const std::uint32_t stride = (u + 7) / 8 * 8;  // bytes per dense row
  std::vector<std::uint8_t> dense;               // row-major, `stride` bytes a row
  std::vector<std::uint32_t> dense_source;       // leftover: sparse row index; HDPC: r_count + h
  std::vector<std::uint64_t> zrow(words);
  for (std::uint32_t r = 0; r < r_count; ++r) {
    if (used[r]) continue;
    std::fill(zrow.begin(), zrow.end(), 0);
    for (std::uint32_t c : rows.row(r)) {
      const std::uint64_t* zc = z_of(c);
      for (std::uint32_t i = 0; i < words; ++i) zrow[i] ^= zc[i];
    }
    bool nonzero = false;
    for (std::uint64_t word : zrow) nonzero = nonzero || word != 0;
    if (!nonzero) continue;  // says only 0 = 0 (or reveals an inconsistency we cannot use)
    const std::size_t base = dense.size();
    dense.resize(base + stride, 0);
    xor_bits_as_bytes(dense.data() + base, zrow.data(), u);
    dense_source.push_back(r);
  }
  const auto first_hdpc = static_cast<std::uint32_t>(dense_source.size());
  {
    // HDPC = MT * GAMMA (section 5.3.3.3): Horner recurrence acc_j = alpha * acc_{j-1} + C_j.
    const std::size_t base = dense.size();
    dense.resize(base + static_cast<std::size_t>(h) * stride, 0);
    std::vector<std::uint8_t> acc(stride, 0);
    for (std::uint32_t j = 0; j < ks; ++j) {
      symbol_scale(acc.data(), 2, u);
      xor_bits_as_bytes(acc.data(), z_of(j), u);
      if (j + 1 < ks) {
        const std::uint32_t h1 = rand(j + 1, 6, h);
        const std::uint32_t h2 = (h1 + rand(j + 1, 7, h - 1) + 1) % h;
        symbol_xor(dense.data() + base + static_cast<std::size_t>(h1) * stride, acc.data(), u);
        symbol_xor(dense.data() + base + static_cast<std::size_t>(h2) * stride, acc.data(), u);
      } else {
        for (std::uint32_t i = 0; i < h; ++i) {
          symbol_mul_add(dense.data() + base + static_cast<std::size_t>(i) * stride, acc.data(),
                         gf_alpha_pow(i), u);
        }
      }
    }
    for (std::uint32_t i = 0; i < h; ++i) {
      xor_bits_as_bytes(dense.data() + base + static_cast<std::size_t>(i) * stride, z_of(ks + i),
                        u);
      dense_source.push_back(r_count + i);
    }
  }
  const auto m = static_cast<std::uint32_t>(dense_source.size());
  if (m < u) return std::nullopt;

  // Gauss-Jordan on the coefficients only, recording the row operations.
  std::vector<DenseOp> dense_ops;
  std::vector<std::uint32_t> pivot_row_of(u, 0);
  std::vector<std::uint8_t> is_pivot(m, 0);
  auto drow = [&](std::uint32_t r) { return dense.data() + static_cast<std::size_t>(r) * stride; };
  for (std::uint32_t j = 0; j < u; ++j) {
    std::uint32_t q = m;
    for (std::uint32_t r = 0; r < m; ++r) {
      if (!is_pivot[r] && drow(r)[j] != 0) {
        q = r;
        if (drow(r)[j] == 1) break;  // prefer a row that needs no scaling
      }
    }
    if (q == m) return std::nullopt;
    is_pivot[q] = 1;
    pivot_row_of[j] = q;
    if (drow(q)[j] != 1) {
      const std::uint8_t inv = gf_inv(drow(q)[j]);
      symbol_scale(drow(q), inv, u);
      dense_ops.push_back(DenseOp{q, q, true, inv});
    }
    for (std::uint32_t r = 0; r < m; ++r) {
      const std::uint8_t coef = drow(r)[j];
      if (r == q || coef == 0) continue;
      symbol_mul_add(drow(r), drow(q), coef, u);
      dense_ops.push_back(DenseOp{r, q, false, coef});
    }
  }
  // The pivot row of dense column j ends up holding C[inactive_cols[j]]: give it that slot.
  std::vector<std::uint32_t> slot_of(m, 0);
  for (std::uint32_t j = 0; j < u; ++j) slot_of[pivot_row_of[j]] = c_slot(inactive_cols[j]);

  // Right-hand sides of the dense rows that are used.
  for (std::uint32_t d = 0; d < first_hdpc; ++d) {
    if (!is_pivot[d]) continue;
    const std::uint32_t r = dense_source[d];
    start_terms(r);
    for (std::uint32_t c : rows.row(r)) {
      if (state[c] == kPivot) terms.push_back(c_slot(c));
    }
    emit_sum(slot_of[d], terms);
  }
  {
    for (std::uint32_t i = 0; i < h; ++i) {
      if (is_pivot[first_hdpc + i]) emit(OpKind::kZero, slot_of[first_hdpc + i], 0);
    }
    bool acc_live = false;
    for (std::uint32_t j = 0; j < ks; ++j) {
      if (state[j] == kPivot) {
        emit(acc_live ? OpKind::kScaleAdd : OpKind::kCopy, acc_slot, c_slot(j), 2);
        acc_live = true;
      } else if (acc_live) {
        emit(OpKind::kScale, acc_slot, acc_slot, 2);
      }
      if (!acc_live) continue;
      if (j + 1 < ks) {
        const std::uint32_t h1 = rand(j + 1, 6, h);
        const std::uint32_t h2 = (h1 + rand(j + 1, 7, h - 1) + 1) % h;
        if (is_pivot[first_hdpc + h1]) emit(OpKind::kXor, slot_of[first_hdpc + h1], acc_slot);
        if (is_pivot[first_hdpc + h2]) emit(OpKind::kXor, slot_of[first_hdpc + h2], acc_slot);
      } else {
        for (std::uint32_t i = 0; i < h; ++i) {
          if (is_pivot[first_hdpc + i]) {
            emit(OpKind::kMulAdd, slot_of[first_hdpc + i], acc_slot, gf_alpha_pow(i));
          }
        }
      }
    }
    for (std::uint32_t i = 0; i < h; ++i) {
      if (is_pivot[first_hdpc + i] && state[ks + i] == kPivot) {
        emit(OpKind::kXor, slot_of[first_hdpc + i], c_slot(ks + i));
      }
    }
  }
  // The elimination itself, on the rows that matter.
  for (const DenseOp& op : dense_ops) {
    if (!is_pivot[op.dst]) continue;
    if (op.scale) {
      emit(OpKind::kScale, slot_of[op.dst], slot_of[op.dst], op.coef);
    } else {
      emit(op.coef == 1 ? OpKind::kXor : OpKind::kMulAdd, slot_of[op.dst], slot_of[op.src],
           op.coef);
    }
  }
  // Back-substitution: each pivot column from its row, in pivot order.
  for (const auto& [r, pc] : pivots) {
    start_terms(r);
    for (std::uint32_t c : rows.row(r)) {
      if (c != pc) terms.push_back(c_slot(c));
    }
    emit_sum(c_slot(pc), terms);
  }
  return plan;
}

void SolvePlan::execute(const std::uint8_t* const* inputs, std::uint8_t* intermediate,
                        std::uint8_t* scratch, std::size_t symbol_size) const {
  const std::uint32_t n = num_inputs_;
  const std::uint32_t l = l_;
  auto read = [&](std::uint32_t slot) -> const std::uint8_t* {
    if (slot < n) return inputs[slot];
    if (slot < n + l) return intermediate + static_cast<std::size_t>(slot - n) * symbol_size;
    return scratch;
  };
  auto write = [&](std::uint32_t slot) -> std::uint8_t* {
    if (slot < n + l) return intermediate + static_cast<std::size_t>(slot - n) * symbol_size;
    return scratch;
  };
  // Start fetching the next op's first source lines while this op runs: large blocks live in
  // L3, and the first lines of each symbol are what the hardware prefetcher misses.
  auto prefetch = [&](const SymbolOp& op) {
    const std::size_t lines = symbol_size < 256 ? (symbol_size + 63) / 64 : 4;
    if (op.kind == OpKind::kSum) {
      const std::uint32_t* term = terms_.data() + op.src;
      for (std::uint32_t i = 0; i < op.count; ++i) {
        const std::uint8_t* p = read(term[i]);
        for (std::size_t line = 0; line < lines; ++line) __builtin_prefetch(p + 64 * line);
      }
    } else if (op.kind != OpKind::kZero && op.kind != OpKind::kScale) {
      const std::uint8_t* p = read(op.src);
      for (std::size_t line = 0; line < lines; ++line) __builtin_prefetch(p + 64 * line);
    }
  };
  const std::size_t count = ops_.size();
  for (std::size_t index = 0; index < count; ++index) {
    const SymbolOp& op = ops_[index];
    if (index + 1 < count) prefetch(ops_[index + 1]);
    std::uint8_t* dst = write(op.dst);
    switch (op.kind) {
      case OpKind::kZero:
        std::memset(dst, 0, symbol_size);
        break;
      case OpKind::kCopy:
        std::memcpy(dst, read(op.src), symbol_size);
        break;
      case OpKind::kXor:
        symbol_xor(dst, read(op.src), symbol_size);
        break;
      case OpKind::kMulAdd:
        symbol_mul_add(dst, read(op.src), op.coef, symbol_size);
        break;
      case OpKind::kScale:
        symbol_scale(dst, op.coef, symbol_size);
        break;
      case OpKind::kScaleAdd:
        symbol_scale_add(dst, read(op.src), op.coef, symbol_size);
        break;
      case OpKind::kSum: {
        // Fold the terms in batches; after the first batch, dst itself is the first source.
        constexpr std::size_t kBatch = 32;
        const std::uint8_t* srcs[kBatch];
        const std::uint32_t* term = terms_.data() + op.src;
        std::size_t left = op.count;
        std::size_t filled = 0;
        while (left > 0) {
          while (filled < kBatch && left > 0) {
            srcs[filled++] = read(*term++);
            --left;
          }
          symbol_xor_sum(dst, srcs, filled, symbol_size);
          srcs[0] = dst;
          filled = 1;
        }
        break;
      }
    }
  }
}

}  // namespace nextmini::raptorq::detail
