"""PyTorch reference for the Transformer parity tests: test/helpers/torch_ref.py (same request format, same "grad"
and "train" tasks, same safetensors files) with the Transformer module specs added:

  {"type": "layernorm", "features"}
  {"type": "mha", "d_model", "nhead", "dropout"}                 self-attention: nn.MultiheadAttention(x, x, x)
  {"type": "encoder_layer", "d_model", "nhead", "ff", "dropout"} nn.TransformerEncoderLayer, batch_first, post-norm
  {"type": "transformer", "input", "d_model", "nhead", "layers", "ff", "dropout", "head", "output"}
                                                                   klinecast's TransformerModel (below)

  usage: ref_transformer.py <dir>   (reads <dir>/inputs.safetensors, writes <dir>/outputs.safetensors)
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'helpers'))
import torch  # noqa: E402
import torch_ref  # noqa: E402
from torch import nn  # noqa: E402


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
    """klinecast's TransformerModel in torch.nn: its named_parameters are the state_dict klinecast writes."""

    def __init__(self, input, d_model, nhead, layers, ff, dropout, head, output):
        super().__init__()
        self.d_model = d_model
        self.input_projection = nn.Linear(input, d_model)
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        layer = nn.TransformerEncoderLayer(d_model, nhead, ff, dropout, batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.fc = nn.Sequential(nn.Linear(d_model, head), nn.ReLU(), nn.Dropout(dropout), nn.Linear(head, output))

    def forward(self, x):
        x = self.input_projection(x) * math.sqrt(self.d_model)
        x = self.pos_encoder(x)
        x = self.transformer_encoder(x)
        return self.fc(x[:, -1, :])


class SelfAttention(nn.MultiheadAttention):
    def forward(self, x):
        return super().forward(x, x, x, need_weights=False)[0]


base_build = torch_ref.build


def build(spec):
    t = spec['type']
    if t == 'layernorm':
        return nn.LayerNorm(spec['features'])
    if t == 'mha':
        return SelfAttention(spec['d_model'], spec['nhead'], dropout=spec['dropout'], batch_first=True)
    if t == 'encoder_layer':
        return nn.TransformerEncoderLayer(spec['d_model'], spec['nhead'], spec['ff'], spec['dropout'], batch_first=True)
    if t == 'transformer':
        return TransformerModel(spec['input'], spec['d_model'], spec['nhead'], spec['layers'], spec['ff'], spec['dropout'],
                                spec['head'], spec['output'])
    return base_build(spec)


torch_ref.build = build
torch_ref.main()
