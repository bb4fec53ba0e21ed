"""Independent safetensors reader/writer for the tests: struct + json + numpy, no safetensors package.

  read <file>          -> prints {"metadata", "order", "tensors": {name: {dtype, shape, values}}} as JSON
  write <spec> <file>  -> writes the tensors of a JSON spec {"metadata"?, "tensors": {name: {dtype, shape, values}}}
"""
import json
import struct
import sys

import numpy as np

NP = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2', 'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}


def read(path):
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    assert n % 8 == 0, 'header length not a multiple of 8'
    text = raw[8:8 + n].decode('utf-8')
    assert text.rstrip(' ') == text.rstrip(), 'header padding is not spaces'
    header = json.loads(text)
    meta = header.pop('__metadata__', {})
    assert all(isinstance(v, str) for v in meta.values())
    data = raw[8 + n:]
    order = sorted(header, key=lambda k: header[k]['data_offsets'][0])
    cursor = 0
    out = {}
    for name in order:
        info = header[name]
        b, e = info['data_offsets']
        assert b == cursor, f'hole/overlap at {name}'
        cursor = e
        arr = np.frombuffer(data[b:e], dtype=NP[info['dtype']]).reshape(info['shape'])
        assert (8 + n + b) % arr.dtype.itemsize == 0, f'{name} misaligned'
        out[name] = {'dtype': info['dtype'], 'shape': list(arr.shape), 'values': arr.ravel().tolist()}
    assert cursor == len(data), 'trailing bytes'
    print(json.dumps({'metadata': meta, 'order': order, 'tensors': out, 'torch_checked': torch_check(path, header, n)}))


def torch_check(path, header, n):
    """When torch exists, also decode with torch.frombuffer to make sure torch sees the same numbers."""
    try:
        import torch
    except ImportError:
        return False
    TD = {'F64': torch.float64, 'F32': torch.float32, 'I64': torch.int64, 'I32': torch.int32, 'U8': torch.uint8}
    raw = bytearray(open(path, 'rb').read())
    for name, info in header.items():
        if info['dtype'] not in TD:
            continue
        b, e = info['data_offsets']
        dtype = TD[info['dtype']]
        count = (e - b) // torch.empty(0, dtype=dtype).element_size()
        t = torch.frombuffer(raw, dtype=dtype, count=count, offset=8 + n + b) if count else torch.empty(0, dtype=dtype)
        t = t.reshape(info['shape'])
        ref = np.frombuffer(bytes(raw[8 + n + b:8 + n + e]), dtype=NP[info['dtype']]).reshape(info['shape'])
        assert np.array_equal(t.numpy(), ref, equal_nan=True), f'torch disagrees on {name}'
    return True


def write(spec_path, path):
    spec = json.load(open(spec_path))
    header = {}
    if 'metadata' in spec:
        header['__metadata__'] = spec['metadata']
    blobs = []
    offset = 0
    for name, t in spec['tensors'].items():
        blob = np.asarray(t['values'], dtype=NP[t['dtype']]).reshape(t['shape']).tobytes()
        header[name] = {'dtype': t['dtype'], 'shape': t['shape'], 'data_offsets': [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


if __name__ == '__main__':
    if sys.argv[1] == 'read':
        read(sys.argv[2])
    else:
        write(sys.argv[2], sys.argv[3])
