"""PyTorch side of `npm run bench`: one W1 epoch of the seed's models on synthetic data, single-threaded.

  /usr/bin/python3 bench/engine_torch.py <model> <epochs> <windows> <seq> <features> <hidden> <layers> <batch> [heads ff]

Prints one JSON line {"model", "epoch_s", "epoch_cpu_s", "warmup_s", "torch"}: wall and CPU seconds of the fastest
of <epochs> epochs (best-of-N, like bench/engine.ts, because the machine may be shared). The epoch matches bench/engine.ts step for step:
shuffled mini-batches (the last one partial), Adam lr 1e-3, MSE, clip_grad_norm_(1.0), dropout 0.2 in training mode.
Run it with OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1 (src/models/benchmark.ts does): torch.set_num_threads
does not limit the BLAS library's own thread pool.
"""
import json
import os
import math
import sys
import time

import torch
from torch import nn

torch.set_num_threads(int(os.environ.get('KLINECAST_TORCH_THREADS', '1')))  # 1 unless `klinecast bench --threads` asks for more
torch.manual_seed(0)


class RecurrentModel(nn.Module):
    def __init__(self, kind, features, hidden, layers, dropout=0.2, head=64, output=1):
        super().__init__()
        rnn = nn.LSTM if kind == 'lstm' else nn.GRU
        self.rnn = rnn(features, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.fc = nn.Sequential(nn.Linear(hidden, head), nn.ReLU(), nn.Dropout(dropout), nn.Linear(head, output))

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div)
        self.register_buffer('pe', pe, persistent=False)

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(1)])


class TransformerModel(nn.Module):
    def __init__(self, features, d_model, layers, heads, ff, dropout=0.2, head=64, output=1):
        super().__init__()
        self.d_model = d_model
        self.input_projection = nn.Linear(features, d_model)
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, layers)
        self.fc = nn.Sequential(nn.Linear(d_model, head), nn.ReLU(), nn.Dropout(dropout), nn.Linear(head, output))

    def forward(self, x):
        h = self.pos_encoder(self.input_projection(x) * math.sqrt(self.d_model))
        return self.fc(self.transformer_encoder(h)[:, -1, :])


def main():
    model_type = sys.argv[1]
    epochs, windows, seq, features, hidden, layers, batch = (int(v) for v in sys.argv[2:9])
    if model_type == 'transformer':
        heads, ff = int(sys.argv[9]), int(sys.argv[10])
        model = TransformerModel(features, hidden, layers, heads, ff)
    else:
        model = RecurrentModel(model_type, features, hidden, layers)
    x = torch.rand(windows, seq, features) * 2 - 1
    y = torch.rand(windows, 1) * 2 - 1
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    model.train()

    def step(xb, yb):
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    start = time.perf_counter()
    for _ in range(2):
        step(x[:batch], y[:batch])
    warmup = time.perf_counter() - start
    epoch, cpu = float('inf'), float('inf')
    for _ in range(epochs):
        start = time.perf_counter()
        cpu_start = time.process_time()
        order = torch.randperm(windows)
        for i in range(0, windows, batch):
            idx = order[i:i + batch]
            step(x[idx], y[idx])
        wall = time.perf_counter() - start
        if wall < epoch:
            epoch, cpu = wall, time.process_time() - cpu_start
    print(json.dumps({'model': model_type, 'epoch_s': epoch, 'epoch_cpu_s': cpu, 'warmup_s': warmup, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
