#!/usr/bin/env python3
"""Reference values for the self-distillation and clustering losses (DINO, Sinkhorn-Knopp, SwAV,
MoCo v3), computed independently of selfsup with PyTorch (Debian's python3-torch) in float64, as
the papers' pseudo-code and their authors' training scripts write them, gradients from autograd:

    /usr/bin/python3 tests/reference/distillation.py tests/reference/distillation.txt

Format as tests/reference/losses.py: one tensor a line, `name ndim d0 d1 ... v0 v1 ...`.
"""
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(20261202)
out = {}


def put(name, t):
    out[name] = t.detach().to(torch.float64).contiguous()


def scalar(name, v):
    put(name, torch.tensor([float(v)], dtype=torch.float64))


# --- DINO: the student's outputs of every crop in one tensor, chunked; the teacher's of the global
# crops; cross-entropy summed over the classes, averaged over the batch and over the pairs of
# different crops.
def dino(student_output, teacher_output, center, ncrops, n_global, tau_s, tau_t):
    student_out = (student_output / tau_s).chunk(ncrops)
    teacher_out = F.softmax((teacher_output - center) / tau_t, dim=-1).detach().chunk(n_global)
    total, n_terms = 0, 0
    for iq, q in enumerate(teacher_out):
        for v in range(len(student_out)):
            if v == iq:
                continue
            loss = torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1)
            total += loss.mean()
            n_terms += 1
    return total / n_terms


for case, (b, k, n_global, n_local, tau_t, tau_s) in enumerate([
        (6, 10, 2, 3, 0.04, 0.1), (4, 7, 2, 0, 0.07, 0.2), (3, 5, 1, 2, 0.5, 0.3)]):
    ncrops = n_global + n_local
    student = torch.randn(ncrops * b, k, dtype=torch.float64, requires_grad=True)
    teacher = (0.5 * student.detach()[: n_global * b] + torch.randn(n_global * b, k, dtype=torch.float64)).requires_grad_(True)
    center = 0.3 * torch.randn(1, k, dtype=torch.float64)
    loss = dino(student, teacher, center, ncrops, n_global, tau_s, tau_t)
    g_student, g_teacher = torch.autograd.grad(loss, [student, teacher], allow_unused=True)
    p = f"dino.{case}"
    put(f"{p}.student", student)
    put(f"{p}.teacher", teacher)
    put(f"{p}.center", center.reshape(k))
    scalar(f"{p}.global", n_global)
    scalar(f"{p}.teacher_temperature", tau_t)
    scalar(f"{p}.student_temperature", tau_s)
    put(f"{p}.loss", loss.reshape(1))
    put(f"{p}.grad_student", g_student)
    # DINO's centre update, momentum 0.9: the mean of the teacher's outputs over every global crop.
    with torch.no_grad():
        batch_center = torch.sum(teacher, dim=0, keepdim=True) / len(teacher)
        put(f"{p}.center_after", (center * 0.9 + batch_center * 0.1).reshape(k))


# --- SwAV's Sinkhorn-Knopp and swapped prediction, as in the authors' main_swav.py (one process).
@torch.no_grad()
def distributed_sinkhorn(out, epsilon, iterations):
    Q = torch.exp(out / epsilon).t()
    B = Q.shape[1]
    K = Q.shape[0]
    Q /= torch.sum(Q)
    for _ in range(iterations):
        Q /= torch.sum(Q, dim=1, keepdim=True)
        Q /= K
        Q /= torch.sum(Q, dim=0, keepdim=True)
        Q /= B
    Q *= B
    return Q.t()


def swav(output, bs, n_high, n_crops, temperature, epsilon, iterations):
    loss = 0
    for i, crop_id in enumerate(range(n_high)):
        with torch.no_grad():
            out = output[bs * crop_id: bs * (crop_id + 1)].detach()
            q = distributed_sinkhorn(out, epsilon, iterations)[-bs:]
        subloss = 0
        for v in [x for x in range(n_crops) if x != crop_id]:
            x = output[bs * v: bs * (v + 1)] / temperature
            subloss -= torch.mean(torch.sum(q * F.log_softmax(x, dim=1), dim=1))
        loss += subloss / (n_crops - 1)
    return loss / n_high


for case, (b, k, iters, eps) in enumerate([(8, 5, 3, 0.05), (5, 9, 10, 0.1), (4, 3, 0, 0.5)]):
    scores = torch.nn.functional.normalize(torch.randn(b, 6, dtype=torch.float64), dim=1) @ \
        torch.nn.functional.normalize(torch.randn(k, 6, dtype=torch.float64), dim=1).t()
    p = f"sinkhorn.{case}"
    put(f"{p}.scores", scores)
    scalar(f"{p}.iterations", iters)
    scalar(f"{p}.epsilon", eps)
    put(f"{p}.codes", distributed_sinkhorn(scores.clone(), eps, iters))

for case, (b, k, n_high, n_low, t, eps, iters) in enumerate([
        (8, 6, 2, 4, 0.1, 0.05, 3), (5, 4, 2, 0, 0.2, 0.1, 5), (6, 7, 3, 1, 0.1, 0.05, 3)]):
    n_crops = n_high + n_low
    protos = F.normalize(torch.randn(k, 5, dtype=torch.float64), dim=1)
    z = F.normalize(torch.randn(n_crops * b, 5, dtype=torch.float64), dim=1)
    scores = (z @ protos.t()).requires_grad_(True)
    loss = swav(scores, b, n_high, n_crops, t, eps, iters)
    (grad,) = torch.autograd.grad(loss, [scores])
    p = f"swav.{case}"
    put(f"{p}.scores", scores)
    scalar(f"{p}.high", n_high)
    scalar(f"{p}.batch", b)
    scalar(f"{p}.temperature", t)
    scalar(f"{p}.epsilon", eps)
    scalar(f"{p}.iterations", iters)
    put(f"{p}.loss", loss.reshape(1))
    put(f"{p}.grad_scores", grad)


# --- MoCo v3: contrastive_loss(q, k) = CE(q̂ k̂ᵀ / τ, arange) · 2τ, symmetrised over the views.
def moco_v3_ctr(q, k, t):
    q = F.normalize(q, dim=1)
    k = F.normalize(k, dim=1)
    logits = q @ k.t() / t
    labels = torch.arange(q.shape[0])
    return F.cross_entropy(logits, labels) * (2 * t)


for case, (n, d, t) in enumerate([(8, 5, 0.2), (4, 7, 1.0)]):
    q0 = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    q1 = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    k0 = (0.6 * q0.detach() + torch.randn(n, d, dtype=torch.float64)).requires_grad_(True)
    k1 = (0.6 * q1.detach() + torch.randn(n, d, dtype=torch.float64)).requires_grad_(True)
    loss = moco_v3_ctr(q0, k1.detach(), t) + moco_v3_ctr(q1, k0.detach(), t)
    g0, g1 = torch.autograd.grad(loss, [q0, q1])
    p = f"moco_v3.{case}"
    for name, v in [("p0", q0), ("p1", q1), ("t0", k0), ("t1", k1)]:
        put(f"{p}.{name}", v)
    scalar(f"{p}.temperature", t)
    put(f"{p}.loss", loss.reshape(1))
    put(f"{p}.grad_p0", g0)
    put(f"{p}.grad_p1", g1)


with open(sys.argv[1], "w") as f:
    f.write("# written by tests/reference/distillation.py; do not edit\n")
    for name, t in out.items():
        values = " ".join(repr(float(v)) for v in t.flatten().tolist())
        f.write(f"{name} {t.dim()} {' '.join(str(s) for s in t.shape)} {values}\n")
