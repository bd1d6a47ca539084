#!/usr/bin/env python3
"""Reference values for tests/losses, computed independently of selfsup with PyTorch (Debian's
python3-torch): the losses as the papers and the usual Python implementations write them, in
float64, with gradients from autograd. Run with Debian's python3:

    /usr/bin/python3 tests/reference/losses.py tests/reference/losses.txt

Format: one tensor a line, `name ndim d0 d1 ... v0 v1 ...`, values in float64 round-trip form.
"""
import math
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(20261126)
out = {}


def put(name, t):
    out[name] = t.detach().to(torch.float64).contiguous()


# --- NT-Xent: cross-entropy over the 2N x 2N similarity logits, self-similarity excluded --------
def nt_xent(z0, z1, temperature):
    n = z0.shape[0]
    z = F.normalize(torch.cat([z0, z1]), dim=1)
    logits = z @ z.t() / temperature
    logits.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, targets)


for case, (n, d, t) in enumerate([(8, 5, 0.5), (5, 16, 0.2), (2, 3, 1.0)]):
    z0 = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    z1 = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    loss = nt_xent(z0, z1, t)
    g0, g1 = torch.autograd.grad(loss, [z0, z1])
    put(f"nt_xent.{case}.z0", z0)
    put(f"nt_xent.{case}.z1", z1)
    put(f"nt_xent.{case}.temperature", torch.tensor([t], dtype=torch.float64))
    put(f"nt_xent.{case}.loss", loss.reshape(1))
    put(f"nt_xent.{case}.grad_z0", g0)
    put(f"nt_xent.{case}.grad_z1", g1)


# --- Barlow Twins: BatchNorm1d without affine (biased variance, eps 1e-5), cross-correlation ----
def barlow_twins(z0, z1, lam):
    n, d = z0.shape
    bn = torch.nn.BatchNorm1d(d, affine=False, eps=1e-5).double().train()
    c = bn(z0).t() @ bn(z1) / n
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = (c - torch.diag(torch.diagonal(c))).pow(2).sum()
    return on + lam * off


for case, (n, d, lam) in enumerate([(10, 6, 0.0051), (4, 3, 0.5)]):
    z0 = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    z1 = (0.5 * z0.detach() + torch.randn(n, d, dtype=torch.float64)).requires_grad_(True)
    loss = barlow_twins(z0, z1, lam)
    g0, g1 = torch.autograd.grad(loss, [z0, z1])
    put(f"barlow.{case}.z0", z0)
    put(f"barlow.{case}.z1", z1)
    put(f"barlow.{case}.lambda", torch.tensor([lam], dtype=torch.float64))
    put(f"barlow.{case}.loss", loss.reshape(1))
    put(f"barlow.{case}.grad_z0", g0)
    put(f"barlow.{case}.grad_z1", g1)



def normalize(z):
    return F.normalize(z, dim=1)


def two_views(n, d, correlated=True):
    z0 = torch.randn(n, d, dtype=torch.float64)
    z1 = (0.7 * z0 + 0.5 * torch.randn(n, d, dtype=torch.float64)) if correlated else torch.randn(n, d, dtype=torch.float64)
    return z0.requires_grad_(True), z1.detach().requires_grad_(True)


def record(prefix, loss, inputs, names):
    grads = torch.autograd.grad(loss, inputs)
    for t, name in zip(inputs, names):
        put(f"{prefix}.{name}", t)
    put(f"{prefix}.loss", loss.reshape(1))
    for g, name in zip(grads, names):
        put(f"{prefix}.grad_{name}", g)


# --- InfoNCE (MoCo): cross-entropy over [q.k, q.negatives^T] / T with target 0 -----------------
for case, (n, k, d, t) in enumerate([(6, 10, 5, 0.2), (3, 4, 8, 0.07)]):
    q = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    key = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    negs = normalize(torch.randn(k, d, dtype=torch.float64)).requires_grad_(True)
    qn, kn = normalize(q), normalize(key)
    logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ negs.t()], 1) / t
    loss = F.cross_entropy(logits, torch.zeros(n, dtype=torch.long))
    put(f"info_nce.{case}.temperature", torch.tensor([t], dtype=torch.float64))
    record(f"info_nce.{case}", loss, [q, key, negs], ["query", "key", "negatives"])


# --- DCL / DCLW: per direction, negatives are both views' other samples ----------------------
def dcl_direction(a, b, t, weight):
    n = a.shape[0]
    off = ~torch.eye(n, dtype=torch.bool)
    s_aa = (a @ a.t() / t)[off].view(n, n - 1)
    s_ab_all = a @ b.t() / t
    s_ab = s_ab_all[off].view(n, n - 1)
    negative = torch.logsumexp(torch.cat([s_aa, s_ab], 1), 1)
    positive = torch.diagonal(s_ab_all) * weight
    return (negative - positive).mean()


def dcl(z0, z1, t, sigma=None):
    a, b = normalize(z0), normalize(z1)
    n = a.shape[0]
    if sigma is None:
        weight = torch.ones(n, dtype=a.dtype)
    else:
        with torch.no_grad():
            weight = 2 - n * torch.softmax((a * b).sum(1) / sigma, 0)
    return 0.5 * (dcl_direction(a, b, t, weight) + dcl_direction(b, a, t, weight))


for case, (n, d, t) in enumerate([(8, 5, 0.1), (4, 6, 0.5)]):
    z0, z1 = two_views(n, d)
    put(f"dcl.{case}.temperature", torch.tensor([t], dtype=torch.float64))
    record(f"dcl.{case}", dcl(z0, z1, t), [z0, z1], ["z0", "z1"])
for case, (n, d, t, sigma) in enumerate([(8, 5, 0.1, 0.5), (5, 3, 0.3, 0.2)]):
    z0, z1 = two_views(n, d)
    put(f"dclw.{case}.temperature", torch.tensor([t], dtype=torch.float64))
    put(f"dclw.{case}.sigma", torch.tensor([sigma], dtype=torch.float64))
    record(f"dclw.{case}", dcl(z0, z1, t, sigma), [z0, z1], ["z0", "z1"])


# --- Debiased (Chuang et al. 2020) and hard negatives (Robinson et al. 2021) ------------------
def debiased(z0, z1, t, tau_plus, beta=None):
    n = z0.shape[0]
    out = torch.cat([normalize(z0), normalize(z1)])
    neg = torch.exp(out @ out.t() / t)
    mask = torch.ones(2 * n, 2 * n, dtype=torch.bool)
    for i in range(n):
        mask[i, i] = mask[i + n, i + n] = mask[i, i + n] = mask[i + n, i] = False
    neg = neg.masked_select(mask).view(2 * n, -1)
    pos = torch.exp((normalize(z0) * normalize(z1)).sum(1) / t)
    pos = torch.cat([pos, pos])
    m = 2 * n - 2
    if beta is None:
        neg_sum = neg.sum(-1)
    else:
        imp = (beta * neg.log()).exp()
        neg_sum = (imp * neg).sum(-1) / imp.mean(-1)
    ng = (-tau_plus * m * pos + neg_sum) / (1 - tau_plus)
    ng = torch.clamp(ng, min=m * math.exp(-1 / t))
    return (-torch.log(pos / (pos + ng))).mean()


for case, (n, d, t, tp) in enumerate([(8, 5, 0.5, 0.1), (6, 4, 0.2, 0.3), (4, 3, 0.5, 0.0), (5, 4, 0.5, 0.9)]):
    z0, z1 = two_views(n, d, correlated=case != 3)
    for name, value in [("temperature", t), ("tau_plus", tp)]:
        put(f"debiased.{case}.{name}", torch.tensor([value], dtype=torch.float64))
    record(f"debiased.{case}", debiased(z0, z1, t, tp), [z0, z1], ["z0", "z1"])
for case, (n, d, t, tp, beta) in enumerate([(8, 5, 0.5, 0.1, 1.0), (6, 4, 0.2, 0.05, 0.5), (5, 3, 0.5, 0.1, 0.0)]):
    z0, z1 = two_views(n, d)
    for name, value in [("temperature", t), ("tau_plus", tp), ("beta", beta)]:
        put(f"hard.{case}.{name}", torch.tensor([value], dtype=torch.float64))
    record(f"hard.{case}", debiased(z0, z1, t, tp, beta), [z0, z1], ["z0", "z1"])


# --- SupCon (Khosla et al. 2020), L_out, as in the authors' formulation ------------------------
def supcon(features, labels, t, base_t):
    b, v, _ = features.shape
    feats = F.normalize(features, dim=2)
    contrast = torch.cat(torch.unbind(feats, dim=1), dim=0)
    mask = torch.eq(labels.view(-1, 1), labels.view(1, -1)).double().repeat(v, v)
    logits_mask = 1 - torch.eye(b * v, dtype=torch.float64)
    mask = mask * logits_mask
    logits = contrast @ contrast.t() / t
    logits = logits - logits.max(1, keepdim=True)[0].detach()
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    pairs = mask.sum(1)
    pairs = torch.where(pairs < 1e-6, torch.ones_like(pairs), pairs)
    mean_log_prob_pos = (mask * log_prob).sum(1) / pairs
    return (-(t / base_t) * mean_log_prob_pos).mean()


for case, (b, v, d, labels, t, bt) in enumerate([
        (6, 2, 5, [0, 1, 0, 2, 1, 3], 0.07, 0.07),
        (5, 3, 4, [4, 4, 4, 1, 2], 0.2, 0.1),
        (4, 1, 3, [0, 1, 0, 2], 0.5, 0.07)]):
    feats = torch.randn(b, v, d, dtype=torch.float64, requires_grad=True)
    lab = torch.tensor(labels)
    put(f"supcon.{case}.labels", lab)
    put(f"supcon.{case}.temperature", torch.tensor([t], dtype=torch.float64))
    put(f"supcon.{case}.base_temperature", torch.tensor([bt], dtype=torch.float64))
    record(f"supcon.{case}", supcon(feats, lab, t, bt), [feats], ["features"])


# --- negative cosine, VICReg -------------------------------------------------------------------
pp = torch.randn(7, 4, dtype=torch.float64, requires_grad=True)
zz = torch.randn(7, 4, dtype=torch.float64, requires_grad=True)
record("negative_cosine.0", -F.cosine_similarity(pp, zz, dim=1).mean(), [pp, zz], ["p", "z"])


def vicreg(z0, z1, inv, var, cov, eps):
    n, d = z0.shape
    repr_loss = F.mse_loss(z0, z1)
    std0 = torch.sqrt(z0.var(dim=0) + eps)
    std1 = torch.sqrt(z1.var(dim=0) + eps)
    std_loss = torch.mean(F.relu(1 - std0)) / 2 + torch.mean(F.relu(1 - std1)) / 2
    x = z0 - z0.mean(dim=0)
    y = z1 - z1.mean(dim=0)
    cov0 = (x.T @ x) / (n - 1)
    cov1 = (y.T @ y) / (n - 1)
    off = ~torch.eye(d, dtype=torch.bool)
    cov_loss = cov0[off].pow(2).sum() / d + cov1[off].pow(2).sum() / d
    return inv * repr_loss + var * std_loss + cov * cov_loss


for case, (n, d, coeffs) in enumerate([(9, 6, (25.0, 25.0, 1.0, 1e-4)), (4, 3, (1.0, 2.0, 3.0, 0.5))]):
    z0, z1 = two_views(n, d)
    z0s = (0.3 * z0).detach().requires_grad_(True)  # small spread: the variance hinge is active
    for name, value in zip(["invariance", "variance", "covariance", "eps"], coeffs):
        put(f"vicreg.{case}.{name}", torch.tensor([value], dtype=torch.float64))
    record(f"vicreg.{case}", vicreg(z0s, z1, *coeffs), [z0s, z1], ["z0", "z1"])


# --- NT-Xent with false negatives (same group) removed from the denominators -------------------
def nt_xent_grouped(z0, z1, groups, t):
    n = z0.shape[0]
    z = F.normalize(torch.cat([z0, z1]), dim=1)
    g = torch.cat([groups, groups])
    logits = z @ z.t() / t
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    drop = g.view(-1, 1) == g.view(1, -1)
    drop[torch.arange(2 * n), targets] = False
    logits = logits.masked_fill(drop, float("-inf"))
    return F.cross_entropy(logits, targets)


for case, (groups, d, t) in enumerate([([0, 1, 0, 2, 1, 3, 3, 0], 5, 0.5), ([5, 6, 7, 8], 3, 0.2)]):
    g = torch.tensor(groups)
    z0, z1 = two_views(len(groups), d)
    put(f"grouped.{case}.groups", g)
    put(f"grouped.{case}.temperature", torch.tensor([t], dtype=torch.float64))
    record(f"grouped.{case}", nt_xent_grouped(z0, z1, g, t), [z0, z1], ["z0", "z1"])

with open(sys.argv[1], "w") as f:
    f.write("# written by tests/reference/losses.py; do not edit\n")
    for name, t in out.items():
        values = " ".join(repr(float(v)) for v in t.flatten().tolist())
        f.write(f"{name} {t.dim()} {' '.join(str(s) for s in t.shape)} {values}\n")
