"""PyTorch reference for the engine parity tests (run by test/helpers/torch.ts with /usr/bin/python3).

  torch_ref.py <dir>   reads <dir>/inputs.safetensors, whose __metadata__["request"] is a JSON request, and writes
                       <dir>/outputs.safetensors.

Requests:
  {"task": "grad", "module": spec, "mode": "eval"|"train", "loss": "dot"|"mse"|"huber"|"mae"}
      inputs: p.<state_dict name>, x, y   (for "dot" the loss is sum(out * y), i.e. y is the upstream gradient)
      outputs: out, loss [1], grad.<name> for every parameter, dx (when the input is differentiable)
  {"task": "train", "module": spec, "steps": n, "optimizer": "adam"|"adamw", "lr", "weight_decay", "clip", "loss"}
      inputs: p.<name>, x.<i>, y.<i> for i < steps; the module runs in eval mode (dropout off) so both sides agree
      outputs: p.<name> after the steps, loss [steps]
  {"task": "batch", "requests": [request, ...]}
      inputs and outputs of request i carry the prefix "<i>/": many references for one interpreter start-up
Module specs: {"type": "linear", "in", "out"} | {"type": "lstm"|"gru", "input", "hidden", "layers", "dropout"} |
  {"type": "dropout", "p"} | {"type": "model", "kind": "lstm"|"gru", "input", "hidden", "layers", "dropout",
  "head", "output"}  (the seed's LSTMModel/GRUModel: rnn -> last step -> fc = Linear, ReLU, Dropout, Linear)
Any model spec may carry "stock_embedding": {"num", "dim"}: the model behind klinecast's stock embedding (StockEmbedded);
  its grad request then has an input "stocks" [B] (float-coded row indices).
"""
import json
import struct
import sys

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)


def read_safetensors(path):
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', {})
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        b, e = info['data_offsets']
        dtype = {'F32': np.float32, 'F64': np.float64}[info['dtype']]
        tensors[name] = torch.from_numpy(np.frombuffer(data[b:e], dtype=dtype).reshape(info['shape']).copy())
    return tensors, meta


def write_safetensors(path, tensors):
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        arr = t.detach().to(torch.float32).contiguous().numpy()
        blob = arr.tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


class Forecaster(nn.Module):
    def __init__(self, kind, input, hidden, layers, dropout, head, output):
        super().__init__()
        rnn = nn.LSTM if kind == 'lstm' else nn.GRU
        self.rnn = rnn(input, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.fc = nn.Sequential(nn.Linear(hidden, head), nn.ReLU(), nn.Dropout(dropout), nn.Linear(head, output))

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


class SequenceOutput(nn.Module):
    """nn.LSTM/nn.GRU returning only the output sequence, so it composes like every other module here."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


def build(spec):
    t = spec['type']
    if t == 'linear':
        return nn.Linear(spec['in'], spec['out'])
    if t in ('lstm', 'gru'):
        rnn = nn.LSTM if t == 'lstm' else nn.GRU
        return SequenceOutput(rnn(spec['input'], spec['hidden'], spec['layers'], batch_first=True, dropout=spec['dropout']))
    if t == 'dropout':
        return nn.Dropout(spec['p'])
    if t == 'model':
        return Forecaster(spec['kind'], spec['input'], spec['hidden'], spec['layers'], spec['dropout'], spec['head'], spec['output'])
    raise ValueError(f'unknown module type {t}')


class StockEmbedded(nn.Module):
    """klinecast's stock embedding around a forecaster: nn.Embedding(num, dim) registered first (state_dict
    stock_embedding.weight), its row per window concatenated to every time step, then the inner model's own modules
    under their own names (rnn.*, fc.*, input_projection.*, ...), reading input + dim features."""

    def __init__(self, inner, num, dim):
        super().__init__()
        self.stock_embedding = nn.Embedding(num, dim)
        self.inner = [inner]  # a list, so it is not registered twice; its children are registered below
        for name, child in inner.named_children():
            setattr(self, name, child)

    def forward(self, x, stock):
        e = self.stock_embedding(stock).unsqueeze(1).expand(-1, x.shape[1], -1)
        return self.inner[0](torch.cat([x, e], dim=2))


def build_module(spec):
    emb = spec.get('stock_embedding')
    if not emb:
        return build(spec)
    inner = build({**spec, 'stock_embedding': None, 'input': spec['input'] + emb['dim']})
    return StockEmbedded(inner, emb['num'], emb['dim'])


def call(module, inputs, x):
    if isinstance(module, StockEmbedded):
        return module(x, inputs['stocks'].long())
    return module(x)


def named_parameters(module):
    prefix = 'rnn.' if isinstance(module, SequenceOutput) else ''
    return [(name[len(prefix):] if prefix and name.startswith(prefix) else name, p) for name, p in module.named_parameters()]


def load(module, inputs):
    with torch.no_grad():
        for name, p in named_parameters(module):
            p.copy_(inputs['p.' + name])


def loss_of(kind, out, y):
    if kind == 'dot':
        return (out * y).sum()
    if kind == 'mse':
        return nn.functional.mse_loss(out, y)
    if kind == 'huber':
        return nn.functional.huber_loss(out, y, delta=1.0)
    if kind == 'mae':
        return nn.functional.l1_loss(out, y)
    raise ValueError(kind)


def grad_task(req, inputs):
    module = build_module(req['module'])
    load(module, inputs)
    module.train(req.get('mode', 'eval') == 'train')
    x = inputs['x'].clone().requires_grad_(True)
    out = call(module, inputs, x)
    loss = loss_of(req['loss'], out, inputs['y'])
    loss.backward()
    result = {'out': out, 'loss': loss.reshape(1)}
    for name, p in named_parameters(module):
        result['grad.' + name] = p.grad
    result['dx'] = x.grad
    return result


def train_task(req, inputs):
    module = build(req['module'])
    load(module, inputs)
    module.eval()
    params = [p for _, p in named_parameters(module)]
    cls = torch.optim.AdamW if req['optimizer'] == 'adamw' else torch.optim.Adam
    opt = cls(params, lr=req['lr'], weight_decay=req.get('weight_decay', 0.0 if cls is torch.optim.Adam else 0.01))
    losses = []
    for i in range(req['steps']):
        opt.zero_grad()
        loss = loss_of(req['loss'], module(inputs[f'x.{i}']), inputs[f'y.{i}'])
        loss.backward()
        if req.get('clip'):
            nn.utils.clip_grad_norm_(params, req['clip'])
        opt.step()
        losses.append(loss.item())
    result = {'p.' + name: p for name, p in named_parameters(module)}
    result['loss'] = torch.tensor(losses, dtype=torch.float32)
    return result


TASKS = {'grad': grad_task, 'train': train_task}


def batch_task(req, inputs):
    result = {}
    for i, sub in enumerate(req['requests']):
        prefix = f'{i}/'
        sub_inputs = {name[len(prefix):]: t for name, t in inputs.items() if name.startswith(prefix)}
        for name, t in TASKS[sub['task']](sub, sub_inputs).items():
            result[prefix + name] = t
    return result


TASKS['batch'] = batch_task


def main():
    folder = sys.argv[1]
    inputs, meta = read_safetensors(f'{folder}/inputs.safetensors')
    req = json.loads(meta['request'])
    write_safetensors(f'{folder}/outputs.safetensors', TASKS[req['task']](req, inputs))


if __name__ == '__main__':
    main()
