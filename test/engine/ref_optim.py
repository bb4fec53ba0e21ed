"""PyTorch reference for the optimizer tests: reads one JSON request on stdin, prints JSON results.

Request: {"cases": [case, ...]} where a case is one of
  {"kind": "train", "optimizer": "Adam"|"AdamW", "options": {...torch kwargs...}, "max_norm": float|null,
   "schedule": null|{"type": "step"|"cosine"|"plateau", ...torch kwargs...}, "metrics": [float]|null,
   "params": [{"shape": [...], "values": [...]}], "grads": [[[...] per param] per step]}
      -> {"params": [[values per param] per step], "norms": [float per step], "lrs": [float per step]}
  {"kind": "schedule", "schedule": {...}, "lr": float, "steps": int, "metrics": [float]|null}
      -> {"lrs": [lr after each step]}
  {"kind": "clip", "max_norm": float, "grads": [{"shape": [...], "values": [...]}]}
      -> {"norm": float, "grads": [[...]]}
"""
import json
import sys

import torch

torch.set_num_threads(1)


def tensor(spec):
    return torch.tensor(spec['values'], dtype=torch.float32).reshape(spec['shape'])


def make_schedule(opt, spec):
    if spec is None:
        return None
    kwargs = {k: v for k, v in spec.items() if k != 'type'}
    cls = {'step': torch.optim.lr_scheduler.StepLR, 'cosine': torch.optim.lr_scheduler.CosineAnnealingLR,
           'plateau': torch.optim.lr_scheduler.ReduceLROnPlateau}[spec['type']]
    return cls(opt, **kwargs)


def step_schedule(sched, spec, metrics, t):
    if sched is None:
        return
    if spec['type'] == 'plateau':
        sched.step(metrics[t])
    else:
        sched.step()


def train(case):
    params = [torch.nn.Parameter(tensor(p)) for p in case['params']]
    opt = getattr(torch.optim, case['optimizer'])(params, **case['options'])
    sched = make_schedule(opt, case['schedule'])
    out = {'params': [], 'norms': [], 'lrs': []}
    for t, grads in enumerate(case['grads']):
        opt.zero_grad()
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g, dtype=torch.float32).reshape(p.shape)
        if case['max_norm'] is not None:
            out['norms'].append(float(torch.nn.utils.clip_grad_norm_(params, case['max_norm'])))
        opt.step()
        step_schedule(sched, case['schedule'], case['metrics'], t)
        out['lrs'].append(opt.param_groups[0]['lr'])
        out['params'].append([p.detach().reshape(-1).tolist() for p in params])
    return out


def schedule(case):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=case['lr'])
    sched = make_schedule(opt, case['schedule'])
    lrs = []
    for t in range(case['steps']):
        opt.step()
        step_schedule(sched, case['schedule'], case['metrics'], t)
        lrs.append(opt.param_groups[0]['lr'])
    return {'lrs': lrs}


def clip(case):
    params = []
    for g in case['grads']:
        p = torch.nn.Parameter(torch.zeros(g['shape']))
        p.grad = tensor(g)
        params.append(p)
    norm = torch.nn.utils.clip_grad_norm_(params, case['max_norm'])
    return {'norm': float(norm), 'grads': [p.grad.reshape(-1).tolist() for p in params]}


request = json.load(sys.stdin)
print(json.dumps([globals()[case['kind']](case) for case in request['cases']]))
