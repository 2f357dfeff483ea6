"""Layered left-to-right layout for the flow diagram: layers, rows, coordinates and orthogonal edge routes.

Plain Python, no Django. Back-edges (loops, polling cycles) are reversed for layering and drawn above or below
the nodes; edges spanning several layers pass through placeholder slots so they never cross a node.
"""

from __future__ import annotations

from dataclasses import dataclass

MARGIN = 16
MIN_GAP = 60  # between columns: edge tracks and branch labels live here, so it widens for long labels
ROW_GAP = 44  # between nodes of a column: room for the back-edge channel and its label
PASS_GAP = 22  # between an edge passing through a column and its neighbours
CHANNEL = 14  # back-edges run this far above or below the nodes they leave and reach
PASS = "\x01"  # starts the id of an edge's placeholder: PASS, edge index, colon, layer
TRACK = 9  # between parallel vertical segments in one gap


@dataclass
class Box:
    """A node (or an edge's placeholder in a column it passes through) with its place."""

    id: str
    w: float
    h: float
    layer: int = 0
    x: float = 0  # left
    y: float = 0  # centre
    dummy: bool = False

    @property
    def right(self) -> float:
        return self.x + self.w

    def side(self, side: int) -> float:
        """The top (side -1) or bottom (side 1) edge."""
        return self.y + side * self.h / 2

    def channel(self, side: int) -> float:
        """Where back-edges run above or below this box (through a placeholder: at its height)."""
        return self.y if self.dummy else self.y + side * (self.h / 2 + CHANNEL)


@dataclass
class Route:
    """An edge's polyline, whether it goes back, and where its label starts (x, y, text-anchor)."""

    points: list[tuple[float, float]]
    back: bool
    label_at: tuple[float, float, str]


@dataclass
class Layout:
    boxes: dict[str, Box]
    routes: list[Route]
    width: float
    height: float


def layout(
    sizes: dict[str, tuple[float, float]], edges: list[tuple[str, str]], labels: list[float], roots: list[str]
) -> Layout:
    """Place `sizes` (id → (w, h)) and route `edges`; `labels` are the label widths, `roots` where reading starts."""
    order = dfs_order(list(sizes), edges, roots)
    back = back_edges(order, edges)
    flipped = [(b, a) if i in back else (a, b) for i, (a, b) in enumerate(edges)]
    layer = assign_layers(order, [e for i, e in enumerate(flipped) if e[0] != e[1]])
    col_w = max((w for w, _ in sizes.values()), default=0)
    boxes = {k: Box(k, w, h, layer[k]) for k, (w, h) in sizes.items()}
    chains = [_chain(boxes, a, b, i, col_w) for i, (a, b) in enumerate(flipped)]
    columns = order_columns(boxes, chains, {k: i for i, k in enumerate(order)})
    place_rows(boxes, columns, chains)
    sides = back_sides(boxes, chains, back)
    tracks = assign_tracks(boxes, chains, sides)
    gaps = _gap_widths(boxes, chains, tracks, [0 if i in back else w for i, w in enumerate(labels)], len(columns))
    lefts = _place_columns(boxes, gaps, col_w)
    turns = {owner: lefts[owner[0]] + col_w + 12 + TRACK * track for owner, track in tracks.items()}
    routes = [_route(boxes, chain, sides.get(i, 0), i, turns) for i, chain in enumerate(chains)]
    width = MARGIN * 2 + col_w * len(columns) + sum(gaps[:-1])
    return Layout(boxes, routes, width, _fit_height(boxes, routes))


def dfs_order(ids: list[str], edges: list[tuple[str, str]], roots: list[str]) -> list[str]:
    """Ids in depth-first preorder from the roots, then any left unreached, in their given order."""
    succ: dict[str, list[str]] = {k: [] for k in ids}
    for a, b in edges:
        succ[a].append(b)
    seen: list[str] = []
    marked: set[str] = set()
    for root in [*roots, *ids]:
        stack = [root]
        while stack:
            key = stack.pop()
            if key in marked:
                continue
            marked.add(key)
            seen.append(key)
            stack.extend(reversed(succ[key]))
    return seen


def back_edges(order: list[str], edges: list[tuple[str, str]]) -> set[int]:
    """Indexes of the edges that close a cycle, found by a depth-first walk in reading order."""
    succ: dict[str, list[tuple[int, str]]] = {k: [] for k in order}
    for i, (a, b) in enumerate(edges):
        succ[a].append((i, b))
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    back: set[int] = set()
    for root in order:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            step = next(it, None)
            if step is None:
                state[node] = 2
                stack.pop()
            elif state.get(step[1]) == 1:
                back.add(step[0])
            elif step[1] not in state:
                state[step[1]] = 1
                stack.append((step[1], iter(succ[step[1]])))
    return back


def assign_layers(order: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest path from the sources: every edge goes at least one layer to the right."""
    preds: dict[str, list[str]] = {k: [] for k in order}
    indegree = dict.fromkeys(order, 0)
    for a, b in edges:
        preds[b].append(a)
        indegree[b] += 1
    ready = [k for k in order if indegree[k] == 0]
    layer: dict[str, int] = {}
    succ: dict[str, list[str]] = {k: [] for k in order}
    for a, b in edges:
        succ[a].append(b)
    while ready:
        key = ready.pop(0)
        layer[key] = max((layer[p] + 1 for p in preds[key]), default=0)
        for nxt in succ[key]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    return {k: layer.get(k, 0) for k in order}


def _chain(boxes: dict[str, Box], a: str, b: str, index: int, col_w: float) -> list[str]:
    """The boxes an edge passes, left to right, adding a placeholder in every column it crosses."""
    chain = [a]
    for layer in range(boxes[a].layer + 1, boxes[b].layer):
        key = f"{PASS}{index}:{layer}"
        boxes[key] = Box(key, col_w, 0, layer, dummy=True)
        chain.append(key)
    return [*chain, b] if a != b else chain


def order_columns(boxes: dict[str, Box], chains: list[list[str]], rank: dict[str, int]) -> list[list[str]]:
    """Rows within each column: reading order first, then barycentre sweeps, keeping the fewest crossings."""
    count = max((b.layer for b in boxes.values()), default=-1) + 1
    columns: list[list[str]] = [[] for _ in range(count)]
    for key in sorted(boxes, key=lambda k: _rank(k, rank, chains)):
        columns[boxes[key].layer].append(key)
    preds, succs = _neighbours(boxes, chains)
    best, fewest = [list(c) for c in columns], crossings(columns, succs)
    for sweep in range(8):
        down = sweep % 2 == 0
        for layer in range(1, count) if down else range(count - 2, -1, -1):
            reference = columns[layer - 1] if down else columns[layer + 1]
            _sort_by_barycentre(columns[layer], reference, preds if down else succs)
        found = crossings(columns, succs)
        if found < fewest:
            best, fewest = [list(c) for c in columns], found
    return best


def _rank(key: str, rank: dict[str, int], chains: list[list[str]]) -> float:
    """A placeholder ranks just after the box its edge leaves."""
    if not key.startswith(PASS):
        return rank[key]
    return rank[chains[_edge_of(key)][0]] + 0.5


def _edge_of(key: str) -> int:
    """The edge a placeholder belongs to."""
    return int(key[1:].split(":")[0])


def _neighbours(boxes: dict[str, Box], chains: list[list[str]]) -> tuple[dict, dict]:
    preds: dict[str, list[str]] = {k: [] for k in boxes}
    succs: dict[str, list[str]] = {k: [] for k in boxes}
    for chain in chains:
        for a, b in zip(chain, chain[1:], strict=False):
            succs[a].append(b)
            preds[b].append(a)
    return preds, succs


def _sort_by_barycentre(column: list[str], reference: list[str], neighbours: dict[str, list[str]]) -> None:
    position = {k: i for i, k in enumerate(reference)}
    current = {k: i for i, k in enumerate(column)}

    def centre(key: str) -> float:
        found = [position[n] for n in neighbours[key] if n in position]
        return sum(found) / len(found) if found else current[key]

    column.sort(key=lambda k: (centre(k), current[k]))


def crossings(columns: list[list[str]], succs: dict[str, list[str]]) -> int:
    """How many pairs of edges cross between neighbouring columns."""
    total = 0
    for left, right in zip(columns, columns[1:], strict=False):
        where = {k: i for i, k in enumerate(right)}
        pairs = [(i, where[b]) for i, a in enumerate(left) for b in succs[a] if b in where]
        total += sum(1 for p in pairs for q in pairs if p[0] < q[0] and p[1] > q[1])
    return total


def place_rows(boxes: dict[str, Box], columns: list[list[str]], chains: list[list[str]]) -> None:
    """Vertical centres: each box near the mean of its neighbours, never closer than the gaps allow."""
    preds, succs = _neighbours(boxes, chains)
    for column in columns:
        _settle(boxes, column, [0.0] * len(column))
    for sweep in range(9):
        down = sweep % 2 == 0
        for column in columns if down else reversed(columns):
            wanted = [_mean(boxes, (preds if down else succs)[k], boxes[k].y) for k in column]
            _settle(boxes, column, wanted)
    top = min((b.y - b.h / 2 for b in boxes.values()), default=0)
    for box in boxes.values():
        box.y = round(box.y + MARGIN - top)  # whole pixels: nearly level edges become level


def _mean(boxes: dict[str, Box], keys: list[str], default: float) -> float:
    return sum(boxes[k].y for k in keys) / len(keys) if keys else default


def _settle(boxes: dict[str, Box], column: list[str], wanted: list[float]) -> None:
    """Least-squares closest positions to `wanted` that keep the order and minimum separations (pool adjacent)."""
    offsets = [0.0]
    for a, b in zip(column, column[1:], strict=False):
        gap = ROW_GAP if not (boxes[a].dummy or boxes[b].dummy) else PASS_GAP
        offsets.append(offsets[-1] + boxes[a].h / 2 + gap + boxes[b].h / 2)
    blocks: list[list[float]] = []  # [mean, size]
    for want, offset in zip(wanted, offsets, strict=True):
        blocks.append([want - offset, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean2, size2 = blocks.pop()
            mean1, size1 = blocks.pop()
            blocks.append([(mean1 * size1 + mean2 * size2) / (size1 + size2), size1 + size2])
    shifted = [mean for mean, size in blocks for _ in range(int(size))]
    for key, base, offset in zip(column, shifted, offsets, strict=True):
        boxes[key].y = base + offset


def back_sides(boxes: dict[str, Box], chains: list[list[str]], back: set[int]) -> dict[int, int]:
    """Each back-edge runs above (-1) or below (1) its nodes, whichever makes it climb less."""
    return {i: min((1, -1), key=lambda side: _climb(boxes, chains[i], side)) for i in back}


def _climb(boxes: dict[str, Box], chain: list[str], side: int) -> float:
    """Vertical travel on that side; on a tie, the outer side (above when the edge leaves higher than it lands)."""
    ys = [boxes[k].channel(side) for k in chain]
    outer = -1 if boxes[chain[-1]].y < boxes[chain[0]].y - 0.5 else 1
    return sum(abs(a - b) for a, b in zip(ys, ys[1:], strict=False)) + (0.5 if side != outer else 0)


def assign_tracks(boxes: dict[str, Box], chains: list[list[str]], sides: dict[int, int]) -> dict[tuple, int]:
    """Which vertical lane of a gap each turn uses: one per source box (fan-outs share it), one per back-edge."""
    wanted: dict[tuple, tuple[float, float]] = {}
    for i, chain in enumerate(chains):
        for a, b in zip(chain, chain[1:], strict=False):
            side = sides.get(i)
            ya, yb = (boxes[a].channel(side), boxes[b].channel(side)) if side else (boxes[a].y, boxes[b].y)
            owner = (boxes[a].layer, ("back", i) if side else a)
            low, high = wanted.get(owner, (min(ya, yb), max(ya, yb)))
            wanted[owner] = (min(low, ya, yb), max(high, ya, yb))
    tracks: dict[tuple, int] = {}
    used: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for owner, (low, high) in sorted(wanted.items(), key=lambda item: item[1]):
        if high - low < 0.5 and not isinstance(owner[1], tuple):
            continue  # a straight edge needs no turn
        track = 0
        while any(low <= h + 6 and high >= lo - 6 for lo, h in used.get((owner[0], track), [])):
            track += 1
        used.setdefault((owner[0], track), []).append((low, high))
        tracks[owner] = track
    return tracks


def _gap_widths(boxes: dict[str, Box], chains: list, tracks: dict, labels: list[float], count: int) -> list[float]:
    """Each gap is wide enough for its tracks and for the labels that start in it (back-edges' labels pass 0)."""
    gaps = [float(MIN_GAP)] * max(count, 1)
    for (layer, _), track in tracks.items():
        gaps[layer] = max(gaps[layer], 12 + TRACK * track + 40)
    for chain, width in zip(chains, labels, strict=True):
        if width:
            layer = boxes[chain[0]].layer
            start = 12 + TRACK * tracks.get((layer, chain[0]), 0)
            gaps[layer] = max(gaps[layer], start + 6 + width + 12)
    return gaps


def _place_columns(boxes: dict[str, Box], gaps: list[float], col_w: float) -> list[float]:
    """Columns' left edges; boxes centred in their column."""
    lefts = [float(MARGIN)]
    for gap in gaps:
        lefts.append(lefts[-1] + col_w + gap)
    for box in boxes.values():
        box.x = lefts[box.layer] + (col_w - box.w) / 2
    return lefts


def _route(boxes: dict[str, Box], chain: list[str], side: int, index: int, turns: dict) -> Route:
    if side:
        return _back_route(boxes, chain, side, index, turns)
    return _forward_route(boxes, chain, turns)


def _forward_route(boxes: dict[str, Box], chain: list[str], turns: dict) -> Route:
    """Out of the source's right side, turning in the gaps, into the target's left side."""
    first = boxes[chain[0]]
    points = [(first.right, first.y)]
    for a, b in zip(chain, chain[1:], strict=False):
        x = turns.get((boxes[a].layer, a))
        if x is not None and abs(boxes[a].y - boxes[b].y) >= 0.5:
            points += [(x, boxes[a].y), (x, boxes[b].y)]
        points.append((boxes[b].x, boxes[b].y))
    start = turns.get((first.layer, chain[0]), first.right)
    label_y = boxes[chain[1]].y if len(chain) > 1 else first.y
    return Route(_simplify(points), False, (start + 6, label_y - 5, "start"))


def _back_route(boxes: dict[str, Box], chain: list[str], side: int, index: int, turns: dict) -> Route:
    """Out of the source's top or bottom, leftwards beside the columns, into the target's same side."""
    source, target = boxes[chain[-1]], boxes[chain[0]]
    sx, tx = source.x + source.w / 2, target.x + target.w / 2
    label = (sx - 6, source.channel(side) + (12 if side > 0 else -4), "end")
    if len(chain) == 1:  # a step that leads to itself
        y = source.channel(side)
        points = [(sx + 24, source.side(side)), (sx + 24, y), (sx - 24, y), (sx - 24, source.side(side))]
        return Route(points, True, (sx + 28, label[1], "start"))
    points = [(sx, source.side(side)), (sx, source.channel(side))]
    for a, b in zip(reversed(chain[:-1]), reversed(chain[1:]), strict=False):
        x = turns[(boxes[a].layer, ("back", index))]
        points += [(x, boxes[b].channel(side)), (x, boxes[a].channel(side))]
    points += [(tx, target.channel(side)), (tx, target.side(side))]
    return Route(_simplify(points), True, label)


def _fit_height(boxes: dict[str, Box], routes: list[Route]) -> float:
    """Move everything down so channels and labels above the top row fit; the height that holds it all."""
    ys = [y for r in routes for _, y in r.points] + [b.side(s) for b in boxes.values() for s in (-1, 1)]
    baselines = [r.label_at[1] for r in routes]
    shift = max(0.0, MARGIN - min(ys, default=MARGIN), MARGIN + 10 - min(baselines, default=MARGIN + 10))
    for box in boxes.values():
        box.y += shift
    for route in routes:
        route.points = [(x, y + shift) for x, y in route.points]
        route.label_at = (route.label_at[0], route.label_at[1] + shift, route.label_at[2])
    return max(ys + baselines, default=0) + shift + MARGIN + 4


def _simplify(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop repeated points and the middle of straight runs."""
    out: list[tuple[float, float]] = []
    for p in points:
        if out and abs(out[-1][0] - p[0]) < 0.01 and abs(out[-1][1] - p[1]) < 0.01:
            continue
        if len(out) >= 2 and _collinear(out[-2], out[-1], p):
            out[-1] = p
        else:
            out.append(p)
    return out


def _collinear(a, b, c) -> bool:
    return (abs(a[0] - b[0]) < 0.01 and abs(b[0] - c[0]) < 0.01) or (
        abs(a[1] - b[1]) < 0.01 and abs(b[1] - c[1]) < 0.01
    )
