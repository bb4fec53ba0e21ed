"""PyTorch reference for the Transformer parity tests (run by /usr/bin/python3, which has torch).

usage: ref_transformer.py IN.safetensors OUT.safetensors

IN holds `input` (x), `grad_output` (the upstream gradient dy) and `param.<state_dict name>` for every weight; its
metadata holds `kind` (layernorm | mha | encoder_layer | model) and `config` (JSON). The module is built in eval mode
(dropout off), loaded with load_state_dict(strict=True), run forward, then backward from (output * dy).sum().
OUT holds `output`, `grad_input` and `grad.<name>` for every parameter.
The file format is parsed here by hand: Debian's python3-torch ships without the safetensors package.
"""
import json
import math
import struct
import sys

import torch
from torch import nn

DTYPES = {'F32': torch.float32, 'F64': torch.float64, 'I64': torch.int64}


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop('__metadata__', {})
    body = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        start, end = info['data_offsets']
        t = torch.frombuffer(bytearray(body[start:end]), dtype=DTYPES[info['dtype']]) if end > start else torch.zeros(0)
        tensors[name] = t.reshape(info['shape']).clone()
    return tensors, metadata


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(chunks))


class PositionalEncoding(nn.Module):
    """The PyTorch tutorial's sinusoidal encoding, batch-first; pe is a non-persistent buffer (not in the state_dict)."""

    def __init__(self, d_model, dropout, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(1, max_len, d_model)
        pe[0, :, 0::2] = torch.sin(position * div_term)
        pe[0, :, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe, persistent=False)

    def forward(self, x):
        return self.dropout(x + self.pe[:, :x.size(1)])


class TransformerModel(nn.Module):
    """klinecast's TransformerModel in torch.nn: the module names are the state_dict names klinecast writes."""

    def __init__(self, input_size, d_model, nhead, num_layers, dim_feedforward, dropout, output_size, head_hidden):
        super().__init__()
        self.d_model = d_model
        self.input_projection = nn.Linear(input_size, d_model)
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.fc = nn.Sequential(nn.Linear(d_model, head_hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(head_hidden, output_size))

    def forward(self, x):
        x = self.input_projection(x) * math.sqrt(self.d_model)
        x = self.pos_encoder(x)
        x = self.transformer_encoder(x)
        return self.fc(x[:, -1, :])


class SelfAttention(nn.Module):
    def __init__(self, d_model, nhead, dropout):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


def build(kind, c):
    if kind == 'layernorm':
        return nn.LayerNorm(c['features'])
    if kind == 'mha':
        return SelfAttention(c['dModel'], c['numHeads'], c['dropout'])
    if kind == 'encoder_layer':
        return nn.TransformerEncoderLayer(c['dModel'], c['numHeads'], c['dimFeedforward'], c['dropout'], batch_first=True)
    if kind == 'model':
        return TransformerModel(c['inputSize'], c['hiddenSize'], c['numHeads'], c['numLayers'], c['dimFeedforward'],
                                c['dropout'], c['outputSize'], c['headHiddenSize'])
    raise ValueError(f'unknown kind {kind}')


def main():
    torch.set_num_threads(1)
    tensors, meta = read_safetensors(sys.argv[1])
    module = build(meta['kind'], json.loads(meta['config']))
    # the attention wrapper's parameters live one level down, under `attn.`
    prefix = 'attn.' if meta['kind'] == 'mha' else ''
    state = {prefix + k[len('param.'):]: v for k, v in tensors.items() if k.startswith('param.')}
    module.load_state_dict(state, strict=True)
    module.eval()
    x = tensors['input'].requires_grad_(True)
    y = module(x)
    (y * tensors['grad_output']).sum().backward()
    out = {'output': y, 'grad_input': x.grad}
    for name, p in module.named_parameters():
        out['grad.' + name[len(prefix):]] = p.grad
    write_safetensors(sys.argv[2], out)


main()
