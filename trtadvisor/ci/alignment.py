"""Pairing two sequences in order: which items of one are which items of the other.

The diff pairs the layers (and nodes) of two exports of one model, whose names can differ entirely: a
longest common subsequence of their keys (a layer's op sequence, a node's op type) pairs them in order.
It is computed as a patience diff (keys that occur once on each side anchor the alignment, the gaps
between anchors are aligned again), so long, mostly equal sequences cost about n log n; a gap with no
unique key is aligned by ``difflib`` when small and greedily in order when large, keeping a 100k-node
graph within a second or two.
"""

from __future__ import annotations

import difflib
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Hashable, Sequence

QUADRATIC_LIMIT = 250_000  # cells of a gap difflib may align (its cost grows with their product)


def increasing_pairs(pairs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of ``pairs`` increasing in both positions (pairs sorted by the first): the pairs
    that can all hold in one order-keeping alignment."""
    ordered = sorted(pairs)
    tails: list[int] = []  # tails[k]: the smallest second position ending an increasing run of length k + 1
    tail_at: list[int] = []  # index into ordered of that run's end
    back: list[int] = [-1] * len(ordered)
    for idx, (_, j) in enumerate(ordered):
        k = bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_at.append(idx)
        else:
            tails[k] = j
            tail_at[k] = idx
        back[idx] = tail_at[k - 1] if k else -1
    out: list[tuple[int, int]] = []
    idx = tail_at[-1] if tail_at else -1
    while idx >= 0:
        out.append(ordered[idx])
        idx = back[idx]
    out.reverse()
    return out


def align(a: Sequence[Hashable], b: Sequence[Hashable],
          anchors: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Pairs (i, j) with ``a[i] == b[j]``, increasing in both, covering as much as an LCS would.

    ``anchors``: pairs known already (increasing in both); they are kept, and the rest is aligned in the gaps
    between them. Positions paired by an anchor are not paired again."""
    out: list[tuple[int, int]] = []
    prev_i, prev_j = -1, -1
    for i, j in [*anchors, (len(a), len(b))]:
        _align_gap(a, b, prev_i + 1, i, prev_j + 1, j, out)
        if i < len(a) and j < len(b):
            out.append((i, j))
        prev_i, prev_j = i, j
    return out


def _align_gap(a: Sequence[Hashable], b: Sequence[Hashable], a0: int, a1: int, b0: int, b1: int,
               out: list[tuple[int, int]]) -> None:
    stack = [(a0, a1, b0, b1)]
    found: list[tuple[int, int]] = []
    while stack:
        a0, a1, b0, b1 = stack.pop()
        while a0 < a1 and b0 < b1 and a[a0] == b[b0]:  # common head
            found.append((a0, b0))
            a0, b0 = a0 + 1, b0 + 1
        while a0 < a1 and b0 < b1 and a[a1 - 1] == b[b1 - 1]:  # common tail
            a1, b1 = a1 - 1, b1 - 1
            found.append((a1, b1))
        if a0 >= a1 or b0 >= b1:
            continue
        counts_a = Counter(a[a0:a1])
        counts_b = Counter(b[b0:b1])
        where_b = {b[j]: j for j in range(b0, b1) if counts_b[b[j]] == 1}
        unique = [(i, where_b[a[i]]) for i in range(a0, a1) if counts_a[a[i]] == 1 and a[i] in where_b]
        chain = increasing_pairs(unique)
        if chain:
            found.extend(chain)
            prev_i, prev_j = a0 - 1, b0 - 1
            for i, j in [*chain, (a1, b1)]:
                stack.append((prev_i + 1, i, prev_j + 1, j))
                prev_i, prev_j = i, j
        elif (a1 - a0) * (b1 - b0) <= QUADRATIC_LIMIT:
            matcher = difflib.SequenceMatcher(None, a[a0:a1], b[b0:b1], autojunk=False)
            for block in matcher.get_matching_blocks():
                found.extend((a0 + block.a + k, b0 + block.b + k) for k in range(block.size))
        else:
            found.extend(_greedy(a, b, a0, a1, b0, b1))
    found.sort()
    out.extend(found)


def _greedy(a: Sequence[Hashable], b: Sequence[Hashable], a0: int, a1: int, b0: int,
            b1: int) -> list[tuple[int, int]]:
    """Each item of ``a`` in turn takes the next equal item of ``b``: linear, for gaps too large for an LCS."""
    positions: dict[Hashable, list[int]] = {}
    for j in range(b0, b1):
        positions.setdefault(b[j], []).append(j)
    pairs: list[tuple[int, int]] = []
    last = b0 - 1
    for i in range(a0, a1):
        where = positions.get(a[i])
        if not where:
            continue
        k = bisect_right(where, last)
        if k < len(where):
            last = where[k]
            pairs.append((i, last))
    return pairs
