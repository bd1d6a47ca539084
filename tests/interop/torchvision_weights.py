"""The PyTorch side of the weights round trip (tests/interop/test_weights.cpp).

  torchvision_weights.py make DIR         torchvision ResNet-18/34/50 with seeded weights and
                                          BatchNorm statistics, saved as Python saves them
                                          (torch.save(model.state_dict())), an input batch and
                                          the models' features on it
  torchvision_weights.py check DIR TRAIN  the files selfsup wrote from them, loaded back in
                                          Python: names, values, features; and TRAIN (the train
                                          example) with --init A --max-steps 0 --export B
"""
import collections
import subprocess
import sys

import torch
import torchvision

DEPTHS = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34, 50: torchvision.models.resnet50}


def seeded_resnet(depth, seed):
    torch.manual_seed(seed)
    model = DEPTHS[depth]()
    with torch.no_grad():  # BatchNorm's statistics and affine terms away from their defaults
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.num_batches_tracked.fill_(seed + depth)
    return model.eval()


def features(model, x):
    head, model.fc = model.fc, torch.nn.Identity()
    with torch.no_grad():
        out = model(x)
    model.fc = head
    return out


def cifar_resnet18():
    """torchvision's ResNet-18 with the CIFAR stem: a 3x3 stride-1 conv1 and no max-pool."""
    model = torchvision.models.resnet18()
    model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = torch.nn.Identity()
    return model.eval()


def make(folder):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    reference = {"x": x}
    for depth in DEPTHS:
        model = seeded_resnet(depth, depth)
        torch.save(model.state_dict(), f"{folder}/resnet{depth}.pt")  # an OrderedDict with _metadata
        reference[f"resnet{depth}"] = features(model, x)
    torch.save(reference, f"{folder}/reference.pt")
    # One entry: pickled with SETITEM rather than SETITEMS.
    torch.save(torch.nn.Linear(3, 2, bias=False).state_dict(), f"{folder}/one_entry.pt")
    make_foreign(folder, seeded_resnet(18, 18).state_dict())


def make_foreign(folder, sd):
    """ResNet-18's weights as training code elsewhere saves them, nested in a checkpoint's dict
    under prefixes; files a reader must refuse."""
    projector = {"projector.0.weight": torch.randn(8, 512), "projector.0.bias": torch.randn(8)}
    # Lightning and solo-learn: {"state_dict": {"backbone.*", "projector.*"}, "epoch", ...}
    lightning = collections.OrderedDict((f"backbone.{k}", v) for k, v in sd.items())
    lightning.update(projector)
    torch.save({"epoch": 3, "global_step": 120, "state_dict": lightning}, f"{folder}/lightning.pt")
    # MoCo's main_moco.py: {"epoch", "arch", "state_dict": {"module.encoder_q.*", "module.encoder_k.*"}}
    # (the key encoder's tensors stand in small: a reader must take the query encoder's)
    moco = collections.OrderedDict((f"module.encoder_q.{k}", v) for k, v in sd.items())
    moco.update((f"module.encoder_k.{k}", torch.zeros(1)) for k in sd)
    torch.save({"epoch": 3, "arch": "resnet18", "state_dict": moco}, f"{folder}/moco.pt")
    # Nothing that names the weights.
    torch.save({"epoch": 3, "weights": [1, 2]}, f"{folder}/no_state_dict.pt")
    # A storage record shorter than its tensor (a damaged or cut download).
    torch.save(torch.nn.Linear(64, 64).state_dict(), f"{folder}/short.pt")
    truncate_first_storage(f"{folder}/short.pt")
    # A malformed pickle in a well-formed archive: it reads a memo entry that was never written.
    import zipfile
    with zipfile.ZipFile(f"{folder}/bad_pickle.pt", "w", zipfile.ZIP_STORED) as z:
        z.writestr("bad_pickle/data.pkl", b"\x80\x02h\x05.")
        z.writestr("bad_pickle/version", b"3\n")

def truncate_first_storage(path):
    """Rewrites torch.save's zip archive with the first tensor's storage record (data/0) cut to
    half its bytes."""
    import zipfile
    with zipfile.ZipFile(path) as z:
        records = [(info.filename, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            z.writestr(name, data[: len(data) // 2] if name.endswith("/data/0") else data)


def load(path):
    """A file selfsup wrote, read as PyTorch 2.6 reads by default: weights_only=True admits a dict
    of tensors and nothing that could run code (the argument exists from PyTorch 1.13 on)."""
    return torch.load(path, weights_only=True)


def check(folder, train):
    failures = []
    reference = torch.load(f"{folder}/reference.pt")
    for depth in DEPTHS:
        original = torch.load(f"{folder}/resnet{depth}.pt")
        exported = load(f"{folder}/export-resnet{depth}.pt")
        model = DEPTHS[depth]().eval()
        result = model.load_state_dict(exported, strict=False)
        if sorted(result.missing_keys) != ["fc.bias", "fc.weight"] or result.unexpected_keys:
            failures.append(f"resnet{depth}: missing {result.missing_keys}, unexpected {result.unexpected_keys}")
        for name, tensor in exported.items():
            if not torch.equal(tensor, original[name]) or tensor.dtype != original[name].dtype:
                failures.append(f"resnet{depth}: {name} differs from the imported tensor")
        diff = (features(model, reference["x"]) - reference[f"resnet{depth}"]).abs().max().item()
        if diff > 1e-5:
            failures.append(f"resnet{depth}: features of the exported weights differ by {diff}")
    # The CIFAR stem exported as what it is: a 3x3 conv1, features equal to selfsup's.
    exported = load(f"{folder}/export-cifar-resnet18.pt")
    model = cifar_resnet18()
    result = model.load_state_dict(exported, strict=False)
    if sorted(result.missing_keys) != ["fc.bias", "fc.weight"] or result.unexpected_keys:
        failures.append(f"cifar resnet18: missing {result.missing_keys}, unexpected {result.unexpected_keys}")
    cpp = load(f"{folder}/cpp-features.pt")
    diff = (features(model, cpp["x"]) - cpp["cifar-resnet18"]).abs().max().item()
    if diff > 1e-5:
        failures.append(f"cifar resnet18: Python's features differ from selfsup's by {diff}")
    # train --init A --max-steps 0 --export B reproduces A's backbone tensors exactly.
    run = subprocess.run([train, "--backbone", "resnet18", "--stem", "imagenet", "--init", f"{folder}/resnet18.pt",
                          "--max-steps", "0", "--export", f"{folder}/train-export.pt", "--per-class", "4",
                          "--batch-size", "8", "--quiet"], capture_output=True, text=True)
    if run.returncode != 0:
        failures.append(f"train failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    else:
        original = torch.load(f"{folder}/resnet18.pt")
        exported = load(f"{folder}/train-export.pt")
        if set(exported) != set(original) - {"fc.weight", "fc.bias"}:
            failures.append(f"train --export: names differ: {sorted(set(exported) ^ set(original))}")
        for name, tensor in exported.items():
            if not torch.equal(tensor, original[name]):
                failures.append(f"train --export: {name} differs from --init's")
    for f in failures:
        print("FAIL", f)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
