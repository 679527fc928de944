import sys, time, numpy as np
sys.path.insert(0, '/work/main')
from benchmarks.faults.folders import make_folder, load_truth
from convergent.data.folder import discover
from convergent.data.table import build_table
from pathlib import Path
from cleanlab.filter import find_label_issues
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import NearestNeighbors
for base, seed in [('animals', 201), ('mnist', 202)]:
    root = Path(f'/tmp/cv/ln_{base}_{seed}')
    if not root.exists():
        make_folder(root, {'DATA_LABEL_NOISE': 0.05}, base=base, n_per_class=100, seed=seed)
    truth = set(load_truth(root)['ground_truth']['DATA_LABEL_NOISE'])
    T = build_table(str(root), discover(root).files)
    X = np.hstack([T.hog, T.emb]); cl = sorted(set(T.df.cls)); y = np.array([cl.index(c) for c in T.df.cls]); rel = T.df.rel.values
    def ev(name, probs, t):
        iss = find_label_issues(y, probs, return_indices_ranked_by='self_confidence')
        gp = probs[np.arange(len(y)), y]
        for thr in (1.0, 0.2, 0.1):
            s = [k for k in iss if gp[k] < thr]; tp = sum(rel[k] in truth for k in s)
            print(f'{base} {name} acc={(probs.argmax(1)==y).mean():.3f} t={t:.1f} thr={thr} n={len(s)} P={tp/max(len(s),1):.2f} R={tp/len(truth):.2f}')
    for d in (32, 64):
        t=time.time(); Z = PCA(d, random_state=0).fit_transform(X)
        for C in (1.0,):
            probs = cross_val_predict(LogisticRegression(C=C, max_iter=300), Z, y, cv=StratifiedKFold(5, shuffle=True, random_state=0), method='predict_proba')
            ev(f'pca{d}-lr', probs, time.time()-t)
    for k in (10, 20):
        t=time.time(); _, idx = NearestNeighbors(n_neighbors=k+1).fit(X).kneighbors(X)
        v = y[idx[:,1:]]; probs = np.stack([(v==c).sum(1) for c in range(len(cl))],1)+0.5; probs=probs/probs.sum(1,keepdims=True)
        ev(f'knn{k}', probs, time.time()-t)
    from sklearn.svm import SVC
