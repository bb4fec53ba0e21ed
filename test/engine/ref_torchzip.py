"""Reads a PyTorch zip checkpoint the way users will: torch.load (plain and weights_only=True), zipfile's CRC check.

  ref_torchzip.py <file>  -> prints JSON {type, keys, tensors, weights_only_equal, crc_ok, aligned, linear_loaded}
"""
import json
import struct
import sys
import zipfile

import torch

path = sys.argv[1]
sd = torch.load(path)
safe = torch.load(path, weights_only=True)

with zipfile.ZipFile(path) as z:
    crc_ok = z.testzip() is None
    raw = open(path, 'rb').read()
    aligned = True
    names = []
    for info in z.infolist():
        names.append(info.filename)
        n, e = struct.unpack('<HH', raw[info.header_offset + 26:info.header_offset + 30])
        aligned = aligned and (info.header_offset + 30 + n + e) % 64 == 0 and info.compress_type == zipfile.ZIP_STORED


def describe(t):
    return {'dtype': str(t.dtype), 'shape': list(t.shape), 'stride': list(t.stride()), 'requires_grad': t.requires_grad,
            'values': t.reshape(-1).tolist()}


linear_loaded = None
if 'weight' in sd and 'bias' in sd:
    m = torch.nn.Linear(sd['weight'].shape[1], sd['weight'].shape[0])
    m.load_state_dict(sd, strict=True)
    linear_loaded = m(torch.ones(1, sd['weight'].shape[1])).reshape(-1).tolist()

print(json.dumps({
    'type': type(sd).__module__ + '.' + type(sd).__name__,
    'keys': list(sd.keys()),
    'tensors': {k: describe(v) for k, v in sd.items()},
    'weights_only_equal': list(safe.keys()) == list(sd.keys()) and all(torch.equal(safe[k], sd[k]) for k in sd),
    'crc_ok': crc_ok,
    'aligned': aligned,
    'entries': names,
    'linear_loaded': linear_loaded,
}))
