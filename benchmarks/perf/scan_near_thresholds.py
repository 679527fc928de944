import sys, time, numpy as np, io
sys.path.insert(0, '/work/main')
from benchmarks.faults.folders import make_folder, _copy_pixels, COPY_KINDS
from convergent.data.folder import discover
from convergent.data.table import build_table
from convergent.data import features as F, near
from pathlib import Path
from PIL import Image
base = sys.argv[1]; size=int(sys.argv[2])
root = Path(f'/tmp/cv/h_{base}_{size}')
if not root.exists():
    make_folder(root, {}, base=base, n_per_class=100, seed=100, size=size)
L = discover(root); T = build_table(str(root), L.files, workers=2)
ok=np.arange(len(T.df))
p = np.unique(np.concatenate([near._knn_pairs(T.emb,6), near._knn_pairs(near._coarse(T.g32, np.arange(len(T.g32))),6)]),axis=0)
t=time.time(); al = near.aligned_corr(T.g32, p); print('align time', time.time()-t, len(p))
cr=np.hypot(T.df.chroma_r.values[p[:,0]]-T.df.chroma_r.values[p[:,1]], T.df.chroma_g.values[p[:,0]]-T.df.chroma_g.values[p[:,1]])
cos=np.einsum('ij,ij->i',T.emb[p[:,0]],T.emb[p[:,1]])
print('distinct cand align pct 50/99/99.9/max', np.percentile(al,[50,99,99.9,100]).round(3))
print('distinct cand cos max', cos.max().round(3), 'with chroma<=.02: align max', al[cr<=0.02].max().round(3) if (cr<=0.02).any() else None, 'cos max', cos[cr<=0.02].max().round(3), 'n', (cr<=.02).sum())
rng=np.random.default_rng(1); res=[]
G=[];
for i in rng.choice(len(T.df), 100, replace=False):
    arr = np.asarray(Image.open(root/T.df.rel[i]))
    a2,q,sz = _copy_pixels(arr,'crop',rng); b=io.BytesIO(); Image.fromarray(a2).save(b,'PNG'); f=F.facts_from_bytes(b.getvalue())
    g=np.stack([T.g32[i], f['g32']]); res.append((near.aligned_corr(g, np.array([[0,1]]))[0], float(f['emb']@T.emb[i])))
    # low variety jitter
    # is crop copy among candidates of coarse knn? 
res=np.array(res); print('crop align min/5%/50%', res[:,0].min().round(3), np.percentile(res[:,0],[5,50]).round(3))
cc = near.colour_distance(T.df, np.arange(len(T.df)), p)
print('3-colour: distinct with cc<=.02:', (cc<=.02).sum(), 'align max', al[cc<=.02].max().round(3) if (cc<=.02).any() else None, 'cos max', cos[cc<=.02].max().round(3) if (cc<=.02).any() else None)
rng=np.random.default_rng(1); mx={}
for i in rng.choice(len(T.df), 60, replace=False):
    arr = np.asarray(Image.open(root/T.df.rel[i]))
    for k in COPY_KINDS:
        a2,q,sz = _copy_pixels(arr,k,rng); im=Image.fromarray(a2)
        if q: b=io.BytesIO(); im.save(b,'JPEG',quality=q); im=Image.open(io.BytesIO(b.getvalue())).convert(im.mode)
        if sz: im=im.resize(sz, Image.BICUBIC)
        b=io.BytesIO(); im.save(b,'PNG'); f=F.facts_from_bytes(b.getvalue())
        import pandas as pd
        d=pd.DataFrame([{c:v for c,v in f.items() if c.startswith('chroma')}, {c:T.df[c][i] for c in f if c.startswith('chroma')}])
        mx[k]=max(mx.get(k,0), float(near.colour_distance(d, np.arange(2), np.array([[0,1]]))[0]))
print('copy colour dist max', {k:round(v,4) for k,v in mx.items()})
m = np.hypot(T.df.chroma_r.values[p[:,0]]-T.df.chroma_r.values[p[:,1]], T.df.chroma_g.values[p[:,0]]-T.df.chroma_g.values[p[:,1]])
for cm, c3, a in [(0.03,0.12,0.94),(0.03,0.12,0.95),(0.03,0.08,0.94),(0.02,0.12,0.94)]:
    sel=(m<=cm)&(cc<=c3)
    print(cm,c3,a,'distinct FP', ((sel)&(al>=a)).sum(), 'cos FP', (sel&(cos>=0.98)).sum())
