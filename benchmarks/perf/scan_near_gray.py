"""Gray images: distinct nearest neighbours vs near copies, as robust z of log(1 - sim)
against the dataset's own nearest-neighbour distribution (the NEAR_Z gate of
convergent.data.near). Embedded datasets as arrays; copies made the fault benchmark's ways.

    python benchmarks/perf/scan_near_gray.py
"""
import io, sys
import numpy as np
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[2]))
from PIL import Image
from benchmarks.faults.folders import _copy_pixels, COPY_KINDS
from convergent.datasets import load, subsample
from convergent.data import features as F, near
from convergent.data.table import table_from_arrays

def copy_of(arr, kind, rng):
    a2, q, sz = _copy_pixels(arr, kind, rng)
    im = Image.fromarray(a2)
    if q:
        b = io.BytesIO(); im.save(b, 'JPEG', quality=q); im = Image.open(io.BytesIO(b.getvalue())).convert(im.mode)
    if sz:
        im = im.resize(sz, Image.BICUBIC).resize(arr.shape[1::-1], Image.BICUBIC)
    return np.asarray(im)

def z(v, ref):
    med = np.median(ref); mad = np.median(np.abs(ref - med)) / 0.6745
    return (v - med) / max(mad, 0.05)

for name, per in [("mnist", 200), ("animals", 200), ("digits", 180)]:
    x, y, _ = load(name); x, y = subsample(x, y, per)
    T = table_from_arrays(x, y)
    n = len(x)
    p = np.unique(np.concatenate([near._knn_pairs(T.emb, 6), near._knn_pairs(near._coarse(T.g32, np.arange(len(T.g32))), 6)]), axis=0)
    cos = np.einsum('ij,ij->i', T.emb[p[:, 0]], T.emb[p[:, 1]])
    al = near.aligned_corr(T.g32, p)
    best_cos = np.full(n, -1.0); best_al = np.full(n, -1.0)
    np.maximum.at(best_cos, p[:, 0], cos); np.maximum.at(best_cos, p[:, 1], cos)
    np.maximum.at(best_al, p[:, 0], al); np.maximum.at(best_al, p[:, 1], al)
    lc = np.log(np.maximum(1 - best_cos, 1e-6)); la = np.log(np.maximum(1 - best_al, 1e-6))
    zc_d, za_d = z(lc, lc), z(la, la)
    print(f"\n{name}: n={n} distinct NN: cos>=.985 {np.mean(best_cos>=near.COS_NEAR):.3f} align>=.95 {np.mean(best_al>=near.ALIGN_NEAR):.3f}")
    print("  distinct NN z_cos pct 0.1/1/5:", np.percentile(zc_d, [0.1, 1, 5]).round(2), " z_align:", np.percentile(za_d, [0.1, 1, 5]).round(2))
    rng = np.random.default_rng(1)
    for kind in COPY_KINDS[1:]:
        zs_c, zs_a, flag = [], [], []
        for i in rng.choice(n, 60, replace=False):
            c = copy_of(x[i], kind, rng)
            f = F.facts_from_pixels(c.astype(np.float32) / 255.0)
            cs = float(f['emb'] @ T.emb[i])
            g = np.stack([T.g32[i], f['g32']]); a = float(near.aligned_corr(g, np.array([[0, 1]]))[0])
            zc = z(np.log(max(1 - cs, 1e-6)), lc); za = z(np.log(max(1 - a, 1e-6)), la)
            zs_c.append(zc); zs_a.append(za)
            flag.append((cs >= near.COS_NEAR, a >= near.ALIGN_NEAR))
        zs_c, zs_a, flag = np.array(zs_c), np.array(zs_a), np.array(flag)
        print(f"  {kind:10} abs-gate pass {np.mean(flag.any(1)):.2f}  z_cos med/max {np.median(zs_c):.2f}/{zs_c.max():.2f}  z_align med/max {np.median(zs_a):.2f}/{zs_a.max():.2f}  min(z) max {np.minimum(zs_c, zs_a).max():.2f}")
