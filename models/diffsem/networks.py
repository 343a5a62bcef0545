"""DiffSem networks per the paper's Tables I-III (MNIST 1x8x8, CIFAR 3x8x8).

Images are float in [0, 1] with shape (B, C, H, W); features are (B, C, 8, 8) with unit
mean power per packet after :func:`power_normalize`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "fold_x0_onto_y",
    "ContextUNet",
    "MLPAdversary",
    "ConvAdversary",
    "StrongClassifierMLP",
    "StrongClassifierCNN",
    "YClassifier",
    "build_encoder",
    "build_receiver_classifier",
    "build_strong_classifier",
    "build_judges",
    "power_normalize",
]


def power_normalize(z: Tensor, eps: float = 1e-8) -> Tensor:
    """Scale each packet to unit mean power: mean(z^2) = 1 over (C, 8, 8)."""
    p = z.pow(2).flatten(1).mean(1).clamp(min=eps)
    return z / p.sqrt().view(-1, *([1] * (z.dim() - 1)))


class Residual(nn.Module):
    def __init__(self, ch: int, act: type[nn.Module] = nn.LeakyReLU):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1), act(), nn.Conv2d(ch, ch, 3, 1, 1)
        )
        self.act = act()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x + self.body(x))


class MnistEncoder(nn.Module):
    """Table I: Conv+LReLU 16x14x14, Conv+LReLU 32x8x8, Conv+LayerNorm 1x8x8, power norm."""

    def __init__(self, in_ch: int = 1, out_ch: int = 1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, 16, 4, 2, 1), nn.LeakyReLU(0.2),       # 28 -> 14
            nn.Conv2d(16, 32, 3, 2, 2), nn.LeakyReLU(0.2),          # 14 -> 8
            nn.Conv2d(32, out_ch, 3, 1, 1), nn.LayerNorm([out_ch, 8, 8]),
        )

    def forward(self, x: Tensor) -> Tensor:
        return power_normalize(self.net(x))


class CifarEncoder(nn.Module):
    """Table II: Conv 16x32x32, Conv 32x16x16, Residual, Conv+LReLU+LayerNorm 3x8x8."""

    def __init__(self, in_ch: int = 3, out_ch: int = 3):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, 16, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(16, 32, 4, 2, 1), nn.LeakyReLU(0.2),
            Residual(32),
            nn.Conv2d(32, out_ch, 4, 2, 1), nn.LeakyReLU(0.2), nn.LayerNorm([out_ch, 8, 8]),
        )

    def forward(self, x: Tensor) -> Tensor:
        return power_normalize(self.net(x))


class MnistReceiverClassifier(nn.Module):
    """Table I: input [x0_hat, y, t] = 64 + 64 + 1; Linear+ReLU 64; Linear 10."""

    def __init__(self, feat_ch: int = 1, n_classes: int = 10, hidden: int = 64, T: int = 500):
        super().__init__()
        self.T = T
        d = feat_ch * 64
        self.net = nn.Sequential(nn.Linear(2 * d + 1, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_classes))

    def forward(self, x0_hat: Tensor, y: Tensor, t: Tensor) -> Tensor:
        tt = (t.float() / self.T).view(-1, 1).to(y.device, y.dtype)
        return self.net(torch.cat([x0_hat.flatten(1), y.flatten(1), tt], 1))


@torch.no_grad()
def fold_x0_onto_y(clf: nn.Module) -> nn.Module:
    """Make a receiver classifier ignore x0_hat without changing what it computes on
    x0_hat = y: the first layer's x0_hat weights are added to its y weights and zeroed, so
    afterwards ``clf(x, y, t) == before(y, y, t)`` for every x (the bypass classifier,
    exactly). Alg. 2 can then start from classifier-only. In place; returns ``clf``."""
    net = getattr(clf, "net", None)
    first = net[0] if isinstance(net, nn.Sequential) else None
    if isinstance(first, nn.Linear):  # MNIST: inputs [x0_hat (d), y (d), t]
        n_in = first.in_features
    elif isinstance(first, nn.Conv2d):  # CIFAR: channels [x0_hat (c), y (c), t]
        n_in = first.in_channels
    else:
        raise TypeError(f"no x0_hat input layer to fold in {type(clf).__name__}")
    d = (n_in - 1) // 2
    w = first.weight  # dim 1 is the input for both layer kinds
    w[:, d:2 * d] += w[:, :d]
    w[:, :d] = 0.0
    return clf


class CifarReceiverClassifier(nn.Module):
    """Table II: Conv+Tanh 64x8x8; Conv+Tanh 512x4x4; Residual; AvgPool; Linear 10."""

    def __init__(self, feat_ch: int = 3, n_classes: int = 10, width: int = 512, T: int = 500):
        super().__init__()
        self.T = T
        self.net = nn.Sequential(
            nn.Conv2d(2 * feat_ch + 1, 64, 3, 1, 1), nn.Tanh(),
            nn.Conv2d(64, width, 4, 2, 1), nn.Tanh(),
            Residual(width, nn.Tanh),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, n_classes),
        )

    def forward(self, x0_hat: Tensor, y: Tensor, t: Tensor) -> Tensor:
        tt = (t.float() / self.T).view(-1, 1, 1, 1).to(y.device, y.dtype)
        tt = tt.expand(-1, 1, *y.shape[2:])
        return self.net(torch.cat([x0_hat, y, tt], 1))


class StrongClassifierMLP(nn.Module):
    """Table I strong classifier: Linear+Tanh 784, Linear+Tanh 128, Linear 10."""

    def __init__(self, in_ch: int = 1, size: int = 28, n_classes: int = 10):
        super().__init__()
        d = in_ch * size * size
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(d, d), nn.Tanh(), nn.Linear(d, 128), nn.Tanh(),
            nn.Linear(128, n_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class StrongClassifierCNN(nn.Module):
    """Convolutional judge (Table II strong classifier shape, scaled to the image size)."""

    def __init__(self, in_ch: int = 1, size: int = 28, n_classes: int = 10, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, w, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.ReLU(),
            Residual(4 * w, nn.ReLU),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Linear(16 * w, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, n_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MLPAdversary(nn.Module):
    """Table I adversary: Linear+Tanh 784, Linear -> C x H x W (sigmoid to [0, 1])."""

    def __init__(self, feat_ch: int = 1, out_ch: int = 1, size: int = 28):
        super().__init__()
        self.shape = (out_ch, size, size)
        d = out_ch * size * size
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(feat_ch * 64, d), nn.Tanh(), nn.Linear(d, d)
        )

    def forward(self, y: Tensor, t: Tensor | None = None) -> Tensor:
        return torch.sigmoid(self.net(y)).view(-1, *self.shape)


class ConvAdversary(nn.Module):
    """Stronger inversion net: sees y and the (public) step t*, upsamples 8 -> H; output
    clamped to [0, 1] with a straight-through gradient.

    Table II adversary shape: Conv+Tanh 8x8, 2 x (ConvTranspose + Residual), Conv to image.
    """

    def __init__(self, feat_ch: int = 1, out_ch: int = 1, size: int = 28, width: int = 64,
                 T: int = 500):
        super().__init__()
        self.size, self.T = size, T
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(feat_ch + 1, 2 * w, 3, 1, 1), nn.LeakyReLU(0.2),
            Residual(2 * w),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.LeakyReLU(0.2),    # 16
            Residual(w),
            nn.ConvTranspose2d(w, w // 2, 4, 2, 1), nn.LeakyReLU(0.2),   # 32
            nn.Conv2d(w // 2, out_ch, 3, 1, 1),
        )

    def forward(self, y: Tensor, t: Tensor | None = None) -> Tensor:
        if t is None:
            t = torch.zeros(y.shape[0])
        tt = (t.float() / self.T).view(-1, 1, 1, 1).to(y.device, y.dtype)
        tt = tt.expand(-1, 1, *y.shape[2:])
        out = self.net(torch.cat([y, tt], 1))
        if out.shape[-1] != self.size:
            out = F.interpolate(out, size=(self.size, self.size), mode="bilinear",
                                align_corners=False)
        # straight-through clamp to [0, 1]: a sigmoid output saturated at 0 on sparse MNIST
        # (all-black reconstructions, zero gradient); this keeps the gradient alive.
        return out + (out.clamp(0.0, 1.0) - out).detach()


# ---------------------------------------------------------------- context U-Net (Table III)
class ResidualConvBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, is_res: bool = False):
        super().__init__()
        self.same = in_ch == out_ch
        self.is_res = is_res
        self.conv1 = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, 1, 1), nn.BatchNorm2d(out_ch),
                                   nn.GELU())
        self.conv2 = nn.Sequential(nn.Conv2d(out_ch, out_ch, 3, 1, 1), nn.BatchNorm2d(out_ch),
                                   nn.GELU())

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.conv1(x)
        x2 = self.conv2(x1)
        if not self.is_res:
            return x2
        out = x + x2 if self.same else x1 + x2
        return out / 1.414


class UnetDown(nn.Module):
    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.model = nn.Sequential(ResidualConvBlock(in_ch, out_ch), nn.MaxPool2d(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class UnetUp(nn.Module):
    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.model = nn.Sequential(
            nn.ConvTranspose2d(in_ch, out_ch, 2, 2),
            ResidualConvBlock(out_ch, out_ch), ResidualConvBlock(out_ch, out_ch),
        )

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.model(torch.cat([x, skip], 1))


class EmbedFC(nn.Module):
    def __init__(self, in_dim: int, emb_dim: int):
        super().__init__()
        self.in_dim = in_dim
        self.model = nn.Sequential(nn.Linear(in_dim, emb_dim), nn.GELU(),
                                   nn.Linear(emb_dim, emb_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x.view(-1, self.in_dim)).unsqueeze(-1).unsqueeze(-1)


class ContextUNet(nn.Module):
    """Context U-Net on C x 8 x 8 features, width ``n_feat`` (paper: 128).

    ``forward(x_t, t, c=None)``: ``t`` LongTensor steps, ``c`` a (B, n_classes) soft/one-hot
    label or ``None`` (unguided: the null context, as trained with context dropout).
    With ``conditional=False`` (plain DiffSem net) the context embedding is absent.
    """

    def __init__(self, in_ch: int = 1, n_feat: int = 128, n_classes: int = 10, T: int = 500,
                 conditional: bool = True):
        super().__init__()
        self.in_ch, self.n_feat, self.n_classes, self.T = in_ch, n_feat, n_classes, T
        self.conditional = conditional
        nf = n_feat
        self.init_conv = ResidualConvBlock(in_ch, nf, is_res=True)
        self.down1 = UnetDown(nf, nf)          # 4x4
        self.down2 = UnetDown(nf, 2 * nf)      # 2x2
        self.to_vec = nn.Sequential(nn.AvgPool2d(2), nn.GELU())
        self.timeembed1 = EmbedFC(1, 2 * nf)
        self.timeembed2 = EmbedFC(1, nf)
        if conditional:
            self.contextembed1 = EmbedFC(n_classes, 2 * nf)
            self.contextembed2 = EmbedFC(n_classes, nf)
        self.up0 = nn.Sequential(nn.ConvTranspose2d(2 * nf, 2 * nf, 2, 2),
                                 nn.GroupNorm(8, 2 * nf), nn.ReLU())
        self.up1 = UnetUp(4 * nf, nf)
        self.up2 = UnetUp(2 * nf, nf)
        self.out = nn.Sequential(nn.Conv2d(2 * nf, nf, 3, 1, 1), nn.GroupNorm(8, nf), nn.ReLU(),
                                 nn.Conv2d(nf, in_ch, 3, 1, 1))

    def forward(self, x: Tensor, t: Tensor, c: Tensor | None = None) -> Tensor:
        x0 = self.init_conv(x)
        d1 = self.down1(x0)
        d2 = self.down2(d1)
        h = self.to_vec(d2)
        tt = (t.float() / self.T).view(-1, 1).to(x.device, x.dtype)
        temb1, temb2 = self.timeembed1(tt), self.timeembed2(tt)
        if self.conditional:
            if c is None:
                c = torch.zeros(x.shape[0], self.n_classes, device=x.device, dtype=x.dtype)
            cemb1, cemb2 = self.contextembed1(c), self.contextembed2(c)
        else:
            cemb1 = cemb2 = 1.0
        u1 = self.up0(h)
        u2 = self.up1(cemb1 * u1 + temb1, d2)
        u3 = self.up2(cemb2 * u2 + temb2, d1)
        return self.out(torch.cat([u3, x0], 1))


# ---------------------------------------------------------------- factories
class YClassifier(nn.Module):
    """A classifier of the received features y (B, C, 8, 8) and the public step t* (B,):
    logits (B, n_classes). ``small`` is the receiver classifier's own shape (input
    [y, y, t]), ``mlp`` is C*64+1 -> 512 -> 512 -> n_classes, ``conv`` a small conv net on
    y with t* as an extra channel. Used as headroom probe (how well can any receiver of y
    do) and as Eve's direct attacker (classify y without inverting it to an image)."""

    def __init__(self, kind: str, feat_ch: int = 1, T: int = 500, n_classes: int = 10):
        super().__init__()
        self.kind, self.T = kind, T
        d = feat_ch * 64
        if kind == "small":
            self.net = nn.Sequential(nn.Linear(2 * d + 1, 64), nn.ReLU(),
                                     nn.Linear(64, n_classes))
        elif kind == "mlp":
            self.net = nn.Sequential(nn.Linear(d + 1, 512), nn.ReLU(), nn.Dropout(0.1),
                                     nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.1),
                                     nn.Linear(512, n_classes))
        elif kind == "conv":
            self.net = nn.Sequential(
                nn.Conv2d(feat_ch + 1, 32, 3, 1, 1), nn.ReLU(),
                nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(),
                nn.Conv2d(64, 64, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                nn.Linear(64 * 16, 256), nn.ReLU(), nn.Dropout(0.1), nn.Linear(256, n_classes))
        else:
            raise ValueError(f"unknown probe {kind!r}")

    def forward(self, y: Tensor, t: Tensor) -> Tensor:
        tt = (t.float() / self.T).to(y.device)
        if self.kind == "conv":
            tc = tt.view(-1, 1, 1, 1).expand(-1, 1, *y.shape[2:])
            return self.net(torch.cat([y, tc], 1))
        f = y.flatten(1)
        if self.kind == "small":
            return self.net(torch.cat([f, f, tt.view(-1, 1)], 1))
        return self.net(torch.cat([f, tt.view(-1, 1)], 1))


def build_encoder(dataset: str) -> nn.Module:
    return CifarEncoder() if dataset.startswith("cifar") else MnistEncoder()


def build_receiver_classifier(dataset: str, T: int = 500) -> nn.Module:
    if dataset.startswith("cifar"):
        return CifarReceiverClassifier(T=T)
    return MnistReceiverClassifier(T=T)


def build_strong_classifier(dataset: str, kind: str = "cnn") -> nn.Module:
    ch, size = (3, 32) if dataset.startswith("cifar") else (1, 28)
    if kind == "mlp":
        return StrongClassifierMLP(ch, size)
    return StrongClassifierCNN(ch, size, width=32 if ch == 1 else 64)


def build_judges(dataset: str) -> dict[str, nn.Module]:
    """The pair of third-party strong classifiers, keyed as in checkpoints:
    ``judge_mlp`` (Table I MLP) and ``judge_cnn`` (Table II shape)."""
    return {"judge_mlp": build_strong_classifier(dataset, "mlp"),
            "judge_cnn": build_strong_classifier(dataset, "cnn")}
