"""The UNet velocity network v_theta(x, t) of collapse_theory.train.image.unet."""

import json
import math

import pytest
import torch

from collapse_theory.train.image import UNET_PRESETS, UNet, UNetConfig, build_unet, count_parameters
from collapse_theory.train.image.unet import norm_group_count, timestep_embedding

# narrow versions of the presets (same depth, resolutions, attention layout) so CPU tests stay fast
NARROW = {"tiny-8": {}, "small-28": dict(base_channels=8, num_head_channels=4),
          "cifar-36m": dict(base_channels=8, num_head_channels=4, norm_groups=4)}


def _x(config: UNetConfig, batch: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, config.in_channels, config.image_size, config.image_size, generator=g)


@torch.no_grad()
def _randomise_zero_inits(model: UNet, seed: int = 1) -> UNet:
    """Give the zero-initialised output conv and attention projections random weights (nonzero outputs)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name.startswith("out_conv") or ".proj." in name or name.startswith("mid_attn.proj"):
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model


def _expected_count(cfg: UNetConfig) -> int:
    """Closed-form parameter count of the documented architecture (independent of the module code)."""
    c, e = cfg.base_channels, 4 * cfg.base_channels
    gn = lambda ch: 2 * ch  # noqa: E731
    conv3 = lambda i, o: 9 * i * o + o  # noqa: E731
    lin = lambda i, o: i * o + o  # noqa: E731
    res = lambda i, o: (gn(i) + conv3(i, o) + lin(e, o) + gn(o) + conv3(o, o)  # noqa: E731
                        + (lin(i, o) if i != o else 0))
    attn = lambda ch: gn(ch) + lin(ch, 3 * ch) + lin(ch, ch)  # noqa: E731
    total = lin(c, e) + lin(e, e) + conv3(cfg.in_channels, c)
    sizes = [cfg.image_size]
    for _ in cfg.channel_mult[1:]:
        sizes.append(math.ceil(sizes[-1] / 2))
    skips, ch = [c], c
    for level, m in enumerate(cfg.channel_mult):
        for _ in range(cfg.num_res_blocks):
            total += res(ch, c * m) + (attn(c * m) if sizes[level] in cfg.attention_resolutions else 0)
            ch = c * m
            skips.append(ch)
        if level < len(cfg.channel_mult) - 1:
            total += conv3(ch, ch)
            skips.append(ch)
    total += 2 * res(ch, ch) + (attn(ch) if cfg.mid_attention else 0)
    for level in reversed(range(len(cfg.channel_mult))):
        m = cfg.channel_mult[level]
        for i in range(cfg.num_res_blocks + 1):
            total += res(ch + skips.pop(), c * m) + (attn(c * m) if sizes[level] in cfg.attention_resolutions else 0)
            ch = c * m
        if level > 0:
            total += conv3(ch, ch)
    return total + gn(ch) + conv3(ch, cfg.in_channels)


# ---------------------------------------------------------------- shapes, sizes, parameter counts

@pytest.mark.parametrize("preset, overrides, batch", [
    ("tiny-8", {}, 3),
    ("small-28", {}, 1),
    ("cifar-36m", NARROW["cifar-36m"], 2),
])
def test_output_shape_matches_input(preset, overrides, batch):
    model = _randomise_zero_inits(build_unet(preset, **overrides)).eval()
    x = _x(model.config, batch)
    with torch.no_grad():
        out = model(x, torch.rand(batch))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.isfinite(out).all() and out.abs().max() > 0


@pytest.mark.parametrize("size, mult, attn", [
    (4, (1, 2, 2), (2,)),
    (5, (1, 1, 1, 1), (3, 1)),          # 5 -> 3 -> 2 -> 1
    (7, (1, 2, 2, 2), (4,)),            # 7 -> 4 -> 2 -> 1
    (28, (1, 1, 1, 1), (7, 4)),         # 28 -> 14 -> 7 -> 4: the downsample of 7 and the upsample back
    (9, (1,), (9,)),                    # a single level
])
def test_odd_sizes_and_deep_nets_keep_the_shape(size, mult, attn):
    cfg = UNetConfig(image_size=size, base_channels=8, channel_mult=mult, attention_resolutions=attn,
                     num_head_channels=4, num_res_blocks=1)
    assert cfg.level_sizes[0] == size and all(n >= 1 for n in cfg.level_sizes)
    model = _randomise_zero_inits(UNet(cfg)).eval()
    x = _x(cfg, 2)
    with torch.no_grad():
        out = model(x, 0.3)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_level_sizes_halve_with_ceiling():
    assert UNetConfig(image_size=28, channel_mult=(1, 2, 2, 2, 2, 2)).level_sizes == (28, 14, 7, 4, 2, 1)
    assert UNetConfig(image_size=32, channel_mult=(1, 2, 2, 2)).level_sizes == (32, 16, 8, 4)


def test_cifar_preset_matches_the_authors_size():
    with torch.device("meta"):
        model = build_unet("cifar-36m")
    n = count_parameters(model)
    assert abs(n - 35.7e6) <= 0.02 * 35.7e6
    assert n == _expected_count(UNET_PRESETS["cifar-36m"]) == 35_746_307


def test_preset_parameter_ranges():
    with torch.device("meta"):
        tiny, small = build_unet("tiny-8"), build_unet("small-28")
    assert 50_000 <= count_parameters(tiny) <= 150_000
    assert 1_500_000 <= count_parameters(small) <= 7_000_000


@pytest.mark.parametrize("cfg", [
    UNET_PRESETS["tiny-8"], UNET_PRESETS["small-28"],
    UNetConfig(in_channels=3, image_size=7, base_channels=12, channel_mult=(1, 3, 2), num_res_blocks=3,
               attention_resolutions=(7, 2), mid_attention=False, num_head_channels=5, norm_groups=5),
])
def test_parameter_count_matches_closed_form(cfg):
    with torch.device("meta"):
        model = UNet(cfg)
    assert count_parameters(model) == _expected_count(cfg)


def test_attention_heads_divide_channels():
    model = UNet(UNetConfig(image_size=4, base_channels=24, channel_mult=(1, 4), attention_resolutions=(4, 2),
                            num_head_channels=16, norm_groups=32))
    heads = {m.norm.num_channels: m.heads for m in model.modules() if hasattr(m, "heads")}
    assert heads == {24: 1, 96: 6}  # 24 // 16 = 1 head; 96 // 16 = 6 heads of 16


def test_group_norm_groups():
    got = {c: norm_group_count(c, 32) for c in (1, 4, 8, 16, 24, 32, 64, 96, 128, 256, 384, 512)}
    assert got == {1: 1, 4: 1, 8: 2, 16: 4, 24: 4, 32: 8, 64: 16, 96: 16, 128: 32, 256: 32, 384: 32, 512: 32}
    for c, g in got.items():
        assert c % g == 0 and 32 % g == 0 and (g == 1 or c // g >= 4)
    model = build_unet("cifar-36m", base_channels=8, norm_groups=4)
    assert all(m.num_channels // m.num_groups >= 4 for m in model.modules() if isinstance(m, torch.nn.GroupNorm))


# ---------------------------------------------------------------- initialisation and training

@pytest.mark.parametrize("preset", sorted(UNET_PRESETS))
def test_untrained_output_is_exactly_zero(preset):
    model = build_unet(preset, **NARROW[preset])
    x = _x(model.config, 2)
    with torch.no_grad():
        out = model(x, torch.tensor([0.0, 0.7]))
    assert torch.equal(out, torch.zeros_like(x))


@pytest.mark.parametrize("preset", ["tiny-8", "cifar-36m"])
def test_one_sgd_step_makes_output_nonzero_and_time_dependent(preset):
    torch.manual_seed(0)
    model = build_unet(preset, **NARROW[preset], dropout=0.0)
    x = _x(model.config, 4)
    target = _x(model.config, 4, seed=5)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = (model(x, torch.rand(4)) - target).pow(2).mean()
    loss.backward()
    opt.step()
    with torch.no_grad():
        out_a, out_b = model(x, 0.2), model(x, 0.8)
        assert out_a.abs().max() > 1e-4
        # a clear dependence, not round-off: with one-channel GroupNorm groups the time shift is normalised
        # away and this ratio drops to ~1e-6
        assert (out_a - out_b).norm() > 1e-2 * out_a.norm()
        assert (model(x, torch.rand(4)) - target).pow(2).mean() < loss  # the step reduced the loss


def test_time_forms_agree_and_are_per_sample():
    model = _randomise_zero_inits(build_unet("tiny-8")).eval()
    x = _x(model.config, 3)
    with torch.no_grad():
        ref = model(x, torch.full((3,), 0.25))
        assert torch.equal(model(x, 0.25), ref)
        assert torch.equal(model(x, torch.tensor(0.25)), ref)
        assert torch.equal(model(x, torch.tensor(0.25, dtype=torch.float64)), ref)
        ts = torch.tensor([0.0, 0.5, 1.0])
        joint = model(x, ts)
        for i in range(3):
            torch.testing.assert_close(joint[i:i + 1], model(x[i:i + 1], float(ts[i])), rtol=1e-5, atol=1e-6)
        other = model(x[:1], 1.0)[0]  # sample 0 at t = 1 instead of 0
        assert (joint[0] - other).norm() > 1e-2 * joint[0].norm()


def test_timestep_embedding_equation():
    t = torch.tensor([0.0, 0.1234, 1.0])
    dim = 10
    emb = timestep_embedding(t, dim)
    half = dim // 2
    for b in range(3):
        for j in range(half):
            w = 10000.0 ** (-j / half)
            assert emb[b, j].item() == pytest.approx(math.cos(1000 * t[b].item() * w), abs=1e-4)
            assert emb[b, j + half].item() == pytest.approx(math.sin(1000 * t[b].item() * w), abs=1e-4)
    odd = timestep_embedding(t, 7)
    assert odd.shape == (3, 7) and torch.equal(odd[:, -1], torch.zeros(3))


# ---------------------------------------------------------------- batch independence, determinism

@pytest.mark.parametrize("preset", ["tiny-8", "cifar-36m"])
def test_samples_do_not_interact(preset):
    model = _randomise_zero_inits(build_unet(preset, **NARROW[preset])).eval()
    x = _x(model.config, 4)
    t = torch.tensor([0.1, 0.4, 0.6, 0.9])
    with torch.no_grad():
        full = model(x, t)
        x2 = x.clone()
        x2[1:] = 10.0 * _x(model.config, 3, seed=9)  # wildly different other samples
        changed = model(x2, t)
        torch.testing.assert_close(changed[0], full[0], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(changed[1], full[1])
        torch.testing.assert_close(model(x[2:3], t[2:3])[0], full[2], rtol=1e-5, atol=1e-6)


def test_same_seed_same_network_different_seed_different_network():
    def make(seed):
        torch.manual_seed(seed)
        return build_unet("tiny-8")
    a, b, c = make(3), make(3), make(4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    x = _x(a.config, 2)
    _randomise_zero_inits(a), _randomise_zero_inits(b)
    assert torch.equal(a(x, 0.5), b(x, 0.5))


def test_dropout_only_in_training_mode():
    model = _randomise_zero_inits(build_unet("tiny-8", dropout=0.5))
    x = _x(model.config, 2)
    torch.manual_seed(0)
    model.train()
    assert not torch.allclose(model(x, 0.5), model(x, 0.5))
    model.eval()
    assert torch.equal(model(x, 0.5), model(x, 0.5))


# ---------------------------------------------------------------- autocast, channels_last, compile

def test_bf16_autocast_matches_float32():
    model = _randomise_zero_inits(build_unet("cifar-36m", **NARROW["cifar-36m"])).eval()
    x, t = _x(model.config, 2), torch.tensor([0.3, 0.8])
    with torch.no_grad():
        ref = model(x, t)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x, t)
    assert low.shape == ref.shape and torch.isfinite(low).all()
    rel = (low.float() - ref).norm() / ref.norm()
    assert rel < 0.05, rel


def test_channels_last_matches_contiguous():
    model = _randomise_zero_inits(build_unet("cifar-36m", **NARROW["cifar-36m"])).eval()
    x, t = _x(model.config, 2), torch.tensor([0.3, 0.8])
    with torch.no_grad():
        ref = model(x, t)
        out = model(x.to(memory_format=torch.channels_last), t)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
        model = model.to(memory_format=torch.channels_last)
        out = model(x.to(memory_format=torch.channels_last), t)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_channels_last_backward():
    model = _randomise_zero_inits(build_unet("cifar-36m", **NARROW["cifar-36m"]))
    x = _x(model.config, 2).to(memory_format=torch.channels_last).requires_grad_()
    model(x, 0.5).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_traces_as_one_graph_under_torch_compile():
    torch._dynamo.reset()
    cfg = UNetConfig(in_channels=3, image_size=5, base_channels=8, channel_mult=(1, 2), attention_resolutions=(3,),
                     num_head_channels=4)  # small, with every block kind: attention, down/upsampling 5 -> 3 -> 5
    model = _randomise_zero_inits(UNet(cfg)).eval()
    compiled = torch.compile(model, backend="eager", fullgraph=True)  # fullgraph: a graph break is an error
    x, t = _x(model.config, 2), torch.tensor([0.3, 0.8])
    with torch.no_grad():
        torch.testing.assert_close(compiled(x, t), model(x, t), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(compiled(x, 0.3), model(x, 0.3), rtol=1e-5, atol=1e-6)
    torch._dynamo.reset()


# ---------------------------------------------------------------- configs

@pytest.mark.parametrize("preset", sorted(UNET_PRESETS))
def test_config_round_trip(preset):
    cfg = UNET_PRESETS[preset]
    d = json.loads(json.dumps(cfg.to_dict()))
    assert UNetConfig.from_dict(d) == cfg
    assert UNetConfig.from_dict({}) == UNetConfig()
    assert build_unet(UNetConfig.from_dict(d), **NARROW[preset]).config == build_unet(preset, **NARROW[preset]).config


def test_config_lists_become_tuples_and_overrides_apply():
    cfg = UNetConfig(channel_mult=[1, 2], attention_resolutions=[4])
    assert cfg.channel_mult == (1, 2) and cfg.attention_resolutions == (4,)
    assert hash(cfg) == hash(UNetConfig(channel_mult=(1, 2), attention_resolutions=(4,)))
    model = build_unet("tiny-8", base_channels=8)
    assert model.config.base_channels == 8 and model.config.channel_mult == UNET_PRESETS["tiny-8"].channel_mult


def test_size_overrides_keep_the_attention_levels():
    with torch.device("meta"):
        assert build_unet("small-28", image_size=32).config.attention_resolutions == (16,)
        assert build_unet("cifar-36m", in_channels=1, image_size=28).config.attention_resolutions == (14,)
        assert build_unet("cifar-36m", image_size=28, attention_resolutions=(7,)).config.attention_resolutions == (7,)
        cfg = UNetConfig(image_size=16, channel_mult=(1, 1, 1), attention_resolutions=(8, 4))
        assert build_unet(cfg, channel_mult=(1, 1)).config.attention_resolutions == (8,)  # level 2 is gone
        assert build_unet(cfg, image_size=9).config.attention_resolutions == (5, 3)
        assert build_unet("tiny-8", image_size=28).config.attention_resolutions == ()


# ---------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("field, value", [
    ("in_channels", 0), ("in_channels", 1.5), ("in_channels", True), ("image_size", 0), ("base_channels", -1),
    ("channel_mult", ()), ("channel_mult", (1, 0)), ("channel_mult", "12"), ("num_res_blocks", 0),
    ("attention_resolutions", (0,)), ("attention_resolutions", (5,)), ("attention_resolutions", 4),
    ("num_head_channels", 0), ("dropout", 1.0), ("dropout", -0.1), ("dropout", "0.1"), ("norm_groups", 0),
    ("mid_attention", 1),
])
def test_bad_config_fields(field, value):
    with pytest.raises(ValueError, match=rf"^{field} "):
        UNetConfig(**{field: value})


def test_bad_from_dict_and_build_arguments():
    with pytest.raises(ValueError, match=r"^d "):
        UNetConfig.from_dict({"image_sise": 8})
    with pytest.raises(ValueError, match=r"^d "):
        UNetConfig.from_dict([("image_size", 8)])
    with pytest.raises(ValueError, match=r"^config_or_preset "):
        build_unet("huge-64")
    with pytest.raises(ValueError, match=r"^config_or_preset "):
        build_unet({"image_size": 8})
    with pytest.raises(ValueError, match=r"^overrides "):
        build_unet("tiny-8", widht=3)
    with pytest.raises(ValueError, match=r"^attention_resolutions "):
        build_unet("small-28", image_size=32, attention_resolutions=(14,))  # not a level size of 32x32
    with pytest.raises(ValueError, match=r"^image_size "):
        build_unet("small-28", image_size=0)
    with pytest.raises(ValueError, match=r"^channel_mult "):
        build_unet("small-28", channel_mult="12")
    with pytest.raises(ValueError, match=r"^config "):
        UNet(UNET_PRESETS["tiny-8"].to_dict())
    with pytest.raises(ValueError, match=r"^module "):
        count_parameters([torch.zeros(3)])


@pytest.mark.parametrize("x", [
    torch.zeros(2, 3, 8, 8), torch.zeros(2, 1, 8, 9), torch.zeros(2, 1, 16, 16), torch.zeros(1, 8, 8),
    torch.zeros(2, 1, 8, 8, dtype=torch.int64), torch.zeros(0, 1, 8, 8), [[0.0]],
])
def test_bad_x(x):
    model = build_unet("tiny-8")
    with pytest.raises(ValueError, match=r"^x "):
        model(x, 0.5)


@pytest.mark.parametrize("t", [
    torch.zeros(2, 1), torch.zeros(3), torch.zeros(1), torch.zeros(2, dtype=torch.bool), True, "0.5",
    float("nan"), None, torch.zeros(2, dtype=torch.complex64),
])
def test_bad_t(t):
    model = build_unet("tiny-8")
    with pytest.raises(ValueError, match=r"^t "):
        model(torch.zeros(2, 1, 8, 8), t)
