"""Association kernels: sparse IoU between box sets and optimal assignment with a cost limit.

Boxes are (n, 4) float64 arrays of pixels (x1, y1, x2, y2). Track-to-detection costs
in ByteTrack are `1 - IoU` (optionally `1 - IoU * score`), and a pair is only ever
matched when its cost is below a limit that is at most 1, so pairs that do not
overlap can never match. We therefore enumerate only overlapping pairs (a sweep over
boxes sorted by x1), split the bipartite graph of admissible pairs into connected
components, and solve each component on its own: components are independent, so the
sum of per-component optima is the global optimum. Most components in a real scene
are a single pair; crowded ones are a few rows by a few columns.

The assignment solved is the one of `lap.lapjv(cost, extend_cost=True,
cost_limit=limit)` as used by ByteTrack: minimise the matched costs plus `limit / 2`
for every unmatched row and column. That is a maximum-weight matching with weights
`limit - cost`, which we solve as a rectangular linear sum assignment on
`min(cost - limit, 0)` (a zero entry means "leave unmatched") with a shortest
augmenting path solver (Jonker-Volgenant / Crouse 2016, the algorithm behind
scipy.optimize.linear_sum_assignment).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_INF = np.inf


@njit(cache=True)
def overlap_pairs(a: np.ndarray, b: np.ndarray, min_iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (rows, cols, iou) for every pair with IoU > min_iou (min_iou >= 0) between a (n, 4) and b (m, 4).

    Pairs come out ordered by row, then by b's x1 (ties by column index), so the
    result is deterministic. Arrays have shape (k,): int64, int64, float64.
    """
    n = a.shape[0]
    m = b.shape[0]
    cap = max(16, 4 * (n + m))
    rows = np.empty(cap, dtype=np.int64)
    cols = np.empty(cap, dtype=np.int64)
    ious = np.empty(cap, dtype=np.float64)
    k = 0
    if n == 0 or m == 0:
        return rows[:0], cols[:0], ious[:0]
    order = np.argsort(b[:, 0], kind="mergesort")
    bx1 = np.empty(m, dtype=np.float64)
    max_w = 0.0
    for t in range(m):
        j = order[t]
        bx1[t] = b[j, 0]
        w = b[j, 2] - b[j, 0]
        if w > max_w:
            max_w = w
    for i in range(n):
        ax1 = a[i, 0]
        ay1 = a[i, 1]
        ax2 = a[i, 2]
        ay2 = a[i, 3]
        area_a = (ax2 - ax1) * (ay2 - ay1)
        # Any overlapping b has x1 in (ax1 - max_w, ax2).
        lo = np.searchsorted(bx1, ax1 - max_w, side="right")
        hi = np.searchsorted(bx1, ax2, side="left")
        for t in range(lo, hi):
            j = order[t]
            iw = min(ax2, b[j, 2]) - max(ax1, b[j, 0])
            if iw <= 0.0:
                continue
            ih = min(ay2, b[j, 3]) - max(ay1, b[j, 1])
            if ih <= 0.0:
                continue
            inter = iw * ih
            union = area_a + (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1]) - inter
            iou = inter / union if union > 0.0 else 0.0
            if iou <= min_iou:
                continue
            if k == cap:
                cap *= 2
                rows2 = np.empty(cap, dtype=np.int64)
                cols2 = np.empty(cap, dtype=np.int64)
                ious2 = np.empty(cap, dtype=np.float64)
                rows2[:k] = rows[:k]
                cols2[:k] = cols[:k]
                ious2[:k] = ious[:k]
                rows, cols, ious = rows2, cols2, ious2
            rows[k] = i
            cols[k] = j
            ious[k] = iou
            k += 1
    return rows[:k], cols[:k], ious[:k]


@njit(cache=True)
def linear_sum_assignment(cost: np.ndarray) -> np.ndarray:
    """Solve the rectangular assignment problem on a finite (r, c) cost matrix with r <= c.

    Return `col_for_row` (r,) int64: every row gets a distinct column and the sum of
    costs is minimal. Shortest augmenting paths with dual potentials (Crouse 2016).
    """
    nr = cost.shape[0]
    nc = cost.shape[1]
    u = np.zeros(nr, dtype=np.float64)
    v = np.zeros(nc, dtype=np.float64)
    shortest = np.empty(nc, dtype=np.float64)
    path = np.full(nc, -1, dtype=np.int64)
    col4row = np.full(nr, -1, dtype=np.int64)
    row4col = np.full(nc, -1, dtype=np.int64)
    sr = np.zeros(nr, dtype=np.bool_)
    sc = np.zeros(nc, dtype=np.bool_)
    remaining = np.empty(nc, dtype=np.int64)
    for cur_row in range(nr):
        # Dijkstra from cur_row over reduced costs until an unassigned column is reached.
        min_val = 0.0
        i = cur_row
        num_remaining = nc
        for it in range(nc):
            # Reverse order so ties resolve to the lowest column index, as scipy does.
            remaining[it] = nc - it - 1
        sr[:] = False
        sc[:] = False
        shortest[:] = _INF
        sink = -1
        while sink == -1:
            index = -1
            lowest = _INF
            sr[i] = True
            for it in range(num_remaining):
                j = remaining[it]
                r = min_val + cost[i, j] - u[i] - v[j]
                if r < shortest[j]:
                    path[j] = i
                    shortest[j] = r
                if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                    lowest = shortest[j]
                    index = it
            min_val = lowest
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            sc[j] = True
            num_remaining -= 1
            remaining[index] = remaining[num_remaining]
        u[cur_row] += min_val
        for r_ in range(nr):
            if sr[r_] and r_ != cur_row:
                u[r_] += min_val - shortest[col4row[r_]]
        for j2 in range(nc):
            if sc[j2]:
                v[j2] -= min_val - shortest[j2]
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            prev = col4row[i]
            col4row[i] = j
            j = prev
            if i == cur_row:
                break
    return col4row


@njit(cache=True)
def _find(parent: np.ndarray, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True)
def assign_sparse(
    rows: np.ndarray, cols: np.ndarray, costs: np.ndarray, n_rows: int, n_cols: int, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal matching of admissible pairs (cost < limit) as ByteTrack's `lapjv(..., cost_limit=limit)`.

    rows, cols, costs: (k,) candidate pairs (row < n_rows, col < n_cols, no repeats).
    Return (row_match (n_rows,), col_match (n_cols,)) int64, -1 where unmatched.
    """
    row_match = np.full(n_rows, -1, dtype=np.int64)
    col_match = np.full(n_cols, -1, dtype=np.int64)
    k = rows.shape[0]
    if k == 0:
        return row_match, col_match
    # Union-find over rows [0, n_rows) and columns [n_rows, n_rows + n_cols).
    parent = np.arange(n_rows + n_cols)
    keep = np.zeros(k, dtype=np.bool_)
    for e in range(k):
        if costs[e] < limit:
            keep[e] = True
            ra = _find(parent, rows[e])
            rb = _find(parent, n_rows + cols[e])
            if ra != rb:
                if ra < rb:
                    parent[rb] = ra
                else:
                    parent[ra] = rb
    n_nodes = n_rows + n_cols
    root = np.empty(n_nodes, dtype=np.int64)
    for x in range(n_nodes):
        root[x] = _find(parent, x)
    # Count edges per component; a component with one edge is matched directly.
    edge_count = np.zeros(n_nodes, dtype=np.int64)
    for e in range(k):
        if keep[e]:
            edge_count[root[rows[e]]] += 1
    # Bucket the nodes and edges of the larger components by root (CSR), in ascending order.
    node_start = np.zeros(n_nodes + 1, dtype=np.int64)
    edge_start = np.zeros(n_nodes + 1, dtype=np.int64)
    for x in range(n_nodes):
        if edge_count[root[x]] > 1:
            node_start[root[x] + 1] += 1
    for e in range(k):
        if keep[e]:
            rt = root[rows[e]]
            if edge_count[rt] == 1:
                row_match[rows[e]] = cols[e]
                col_match[cols[e]] = rows[e]
            else:
                edge_start[rt + 1] += 1
    for x in range(n_nodes):
        node_start[x + 1] += node_start[x]
        edge_start[x + 1] += edge_start[x]
    node_fill = node_start[:-1].copy()
    edge_fill = edge_start[:-1].copy()
    nodes = np.empty(node_start[n_nodes], dtype=np.int64)
    edges = np.empty(edge_start[n_nodes], dtype=np.int64)
    local = np.empty(n_nodes, dtype=np.int64)
    n_local_rows = np.zeros(n_nodes, dtype=np.int64)
    for x in range(n_nodes):
        rt = root[x]
        if edge_count[rt] > 1:
            nodes[node_fill[rt]] = x
            node_fill[rt] += 1
            if x < n_rows:
                local[x] = n_local_rows[rt]
                n_local_rows[rt] += 1
            else:
                local[x] = node_fill[rt] - 1 - node_start[rt] - n_local_rows[rt]
    for e in range(k):
        if keep[e]:
            rt = root[rows[e]]
            if edge_count[rt] > 1:
                edges[edge_fill[rt]] = e
                edge_fill[rt] += 1
    for rt in range(n_nodes):
        if edge_count[rt] < 2 or root[rt] != rt:
            continue
        nr = n_local_rows[rt]
        nc = node_start[rt + 1] - node_start[rt] - nr
        comp = nodes[node_start[rt] : node_start[rt + 1]]
        transpose = nr > nc
        sub = np.zeros((nc, nr) if transpose else (nr, nc), dtype=np.float64)
        for t in range(edge_start[rt], edge_start[rt + 1]):
            e = edges[t]
            lr = local[rows[e]]
            lc = local[n_rows + cols[e]]
            if transpose:
                sub[lc, lr] = costs[e] - limit
            else:
                sub[lr, lc] = costs[e] - limit
        sol = linear_sum_assignment(sub)
        for a in range(sol.shape[0]):
            b = sol[a]
            if sub[a, b] < 0.0:
                if transpose:
                    r, c = comp[b], comp[nr + a] - n_rows
                else:
                    r, c = comp[a], comp[nr + b] - n_rows
                row_match[r] = c
                col_match[c] = r
    return row_match, col_match
