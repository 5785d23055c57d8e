"""Runs DeepKE's own standard-RE code for bench/peer-deepke.ts, without Hydra and without editing DeepKE.

DeepKE's example/re/standard/run.py and predict.py are imported as they are and their main() bodies called with a
config composed here from the project's conf/ the way Hydra 1.0 composes it (the primary config, then its defaults
list in order, then key=value overrides; struct mode, so an unknown key is an error). What Hydra and the other
unpackaged imports give DeepKE is stubbed: hydra.main (returns the function), hydra.utils.get_original_cwd, wandb,
torch.utils.tensorboard (when tensorboard is missing) and OmegaConf 1.x/2.0's DictConfig.pretty().

  python3 peer-deepke-shim.py prepare --data DIR --vocab FILE --project DIR
          --train N --valid N --test N --layers L --hidden H
  python3 peer-deepke-shim.py train   --deepke DIR --project DIR [--dynamic-padding] [key=value ...]
  python3 peer-deepke-shim.py predict --deepke DIR --project DIR --rows FILE [key=value ...]   (fp=CHECKPOINT)

Each command prints one JSON line on stdout; DeepKE's own log goes to stderr. The working directory is not changed
(Hydra would enter logs/<time>/): DeepKE reads and writes every path through cfg.cwd, the project folder.
"""

import argparse
import builtins
import csv
import importlib.util
import json
import logging
import os
import sys
import time
import types


def vm_hwm_bytes():
    """Peak resident set size of this process so far (VmHWM)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------------------------------------------------------
# prepare: the same data subsample and the same random-init Hugging Face folder for every contender


def read_csv(path):
    with open(path, encoding='utf-8', newline='') as f:
        return list(csv.DictReader(f))


def write_csv(path, rows, fields):
    with open(path, 'w', encoding='utf-8', newline='') as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator='\n')
        w.writeheader()
        w.writerows(rows)


def spread(rows, n):
    """n rows spread evenly over the file (every len/n-th row), so each relation keeps its share."""
    if n >= len(rows):
        return rows
    return [rows[(i * len(rows)) // n] for i in range(n)]


def prepare(a):
    import torch
    from transformers import BertConfig, BertModel

    origin = os.path.join(a.project, 'data', 'origin')
    os.makedirs(origin, exist_ok=True)
    for split, n in (('train', a.train), ('valid', a.valid), ('test', a.test)):
        rows = read_csv(os.path.join(a.data, f'{split}.csv'))
        write_csv(os.path.join(origin, f'{split}.csv'), spread(rows, n), list(rows[0].keys()))
    rel = read_csv(os.path.join(a.data, 'relation.csv'))
    write_csv(os.path.join(origin, 'relation.csv'), rel, list(rel[0].keys()))

    lm = os.path.join(a.project, 'lm')
    with open(a.vocab, encoding='utf-8') as f:
        vocab = f.read()
    config = BertConfig(
        vocab_size=len(vocab.rstrip('\n').split('\n')),  # not splitlines: vocab.txt holds \x1c and the like
        hidden_size=a.hidden,
        num_hidden_layers=a.layers,
        num_attention_heads=a.hidden // 64,
        intermediate_size=a.hidden * 4,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(lm)
    with open(os.path.join(lm, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write(vocab)
    print(json.dumps({'project': a.project, 'lm_file': lm, 'files': sorted(os.listdir(lm))}))


# ---------------------------------------------------------------------------------------------------------------
# Hydra's part: compose conf/ and stand in for the modules DeepKE imports that are not here


def compose(conf_dir, overrides):
    """conf/config.yaml as Hydra 1.0 composes it: the primary config, then each defaults entry over it, then
    overrides. hydra/* groups are Hydra's own settings and are skipped."""
    from omegaconf import OmegaConf

    primary = OmegaConf.load(os.path.join(conf_dir, 'config.yaml'))
    defaults = OmegaConf.to_container(primary.pop('defaults', []))
    cfg = primary
    for entry in defaults:
        if isinstance(entry, str):
            path = entry
        else:
            ((group, option),) = entry.items()
            if group.startswith('hydra'):
                continue
            path = os.path.join(group, str(option))
        cfg = OmegaConf.merge(cfg, OmegaConf.load(os.path.join(conf_dir, path + '.yaml')))
    OmegaConf.set_struct(cfg, True)
    if overrides:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    return cfg


def install_stubs(project):
    from omegaconf import DictConfig, OmegaConf

    hydra = types.ModuleType('hydra')
    hydra_utils = types.ModuleType('hydra.utils')
    hydra_utils.get_original_cwd = lambda: project
    hydra_utils.to_absolute_path = lambda p: p if os.path.isabs(p) else os.path.join(project, p)
    hydra.utils = hydra_utils
    hydra.main = lambda config_path=None, **_: (lambda fn: fn)
    sys.modules['hydra'] = hydra
    sys.modules['hydra.utils'] = hydra_utils

    if importlib.util.find_spec('wandb') is None:
        sys.modules['wandb'] = types.ModuleType('wandb')
    if importlib.util.find_spec('tensorboard') is None:
        tb = types.ModuleType('torch.utils.tensorboard')
        tb.SummaryWriter = None  # only used with show_plot and plot_utils=tensorboard
        sys.modules['torch.utils.tensorboard'] = tb
    if not hasattr(DictConfig, 'pretty'):  # removed in OmegaConf 2.1
        DictConfig.pretty = lambda self, resolve=False: OmegaConf.to_yaml(self, resolve=resolve)

    import matplotlib

    matplotlib.use('Agg')


def import_deepke(deepke):
    """DeepKE's standard-RE packages, without deepke/__init__.py's imports of every other DeepKE task."""
    src = os.path.join(deepke, 'src')
    for name in ('deepke', 'deepke.relation_extraction'):
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = [os.path.join(src, *name.split('.'))]
            sys.modules[name] = pkg
    sys.path.insert(0, src)


def load_script(deepke, name):
    """example/re/standard/<name>.py as a module (its main() undecorated by the stub hydra.main)."""
    path = os.path.join(deepke, 'example', 're', 'standard', name + '.py')
    spec = importlib.util.spec_from_file_location('deepke_' + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def setup(a):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format='[%(name)s] %(message)s')
    install_stubs(a.project)
    import_deepke(a.deepke)
    return compose(os.path.join(a.project, 'conf'), a.overrides)


# ---------------------------------------------------------------------------------------------------------------
# train: run.py's main() body, timed at each optimizer step


def dynamic_padding(run):
    """DeepKE with dynamic padding: its collate's output cut to the batch's longest row, and the LM's mask built at
    that width (seq_len_to_mask defaults to 512 columns)."""
    collate = run.collate_fn

    def collate_fn(cfg):
        inner = collate(cfg)

        def pad_to_longest(batch):
            x, y = inner(batch)
            width = min(int(x['lens'].max()), x['word'].shape[1])
            x['word'] = x['word'][:, :width].contiguous()
            return x, y

        return pad_to_longest

    run.collate_fn = collate_fn
    lm = sys.modules['deepke.relation_extraction.standard.models.LM']
    mask = lm.seq_len_to_mask
    lm.seq_len_to_mask = lambda seq_len, max_len=None, mask_pos_to_true=True: mask(
        seq_len, max_len=None, mask_pos_to_true=mask_pos_to_true
    )


def train(a):
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    cfg = setup(a)
    run = load_script(a.deepke, 'run')
    if a.dynamic_padding:
        dynamic_padding(run)

    stamps = []  # (perf_counter, VmHWM) after each optimizer step
    register_optimizer_step_post_hook(
        lambda opt, args, kwargs: stamps.append((time.perf_counter(), vm_hwm_bytes()))
    )
    epochs = []  # per epoch: the examples of each step, and where its steps start in stamps
    deepke_train = run.train

    def timed_train(epoch, model, dataloader, *rest):
        first = len(stamps)
        loss = deepke_train(epoch, model, dataloader, *rest)
        n, b = len(dataloader.dataset), dataloader.batch_size
        k = len(stamps) - first
        epochs.append({'first': first, 'examples': [b] * (k - 1) + [n - b * (k - 1)]})
        return loss

    run.train = timed_train

    metrics = sys.modules['deepke.relation_extraction.standard.tools.metrics'].PRMetric
    computed = []
    compute = metrics.compute

    def remember(self):
        r = compute(self)
        computed.append(r)
        return r

    metrics.compute = remember
    test = {}
    deepke_validate = run.validate

    def validate(epoch, *rest):
        f1, loss = deepke_validate(epoch, *rest)
        if epoch < 0:
            acc, p, r, _ = computed[-1]
            test.update(macro_f1=float(f1), macro_p=float(p), macro_r=float(r), accuracy=float(acc), loss=loss)
        return f1, loss

    run.validate = validate
    saved = []
    basic = sys.modules['deepke.relation_extraction.standard.models.BasicModule'].BasicModule
    save = basic.save

    def remember_save(self, epoch=0, cfg=None):
        path = save(self, epoch, cfg)
        saved.append(path)
        return path

    basic.save = remember_save

    t0 = time.perf_counter()
    run.main(cfg)
    wall = time.perf_counter() - t0

    timed_examples, timed_s, timed_steps = 0, 0.0, 0
    for e in epochs:  # steps 2..n of each epoch: start-up, the first step and validation are left out
        ts = [stamps[e['first'] + i][0] for i in range(len(e['examples']))]
        if len(ts) > 1:
            timed_examples += sum(e['examples'][1:])
            timed_s += ts[-1] - ts[0]
            timed_steps += len(ts) - 1
    print(
        json.dumps(
            {
                'padding': 'dynamic' if a.dynamic_padding else 512,
                'steps': len(stamps),
                'timed_steps': timed_steps,
                'examples_per_s': timed_examples / timed_s if timed_s else None,
                'train_peak_rss_bytes': stamps[-1][1] if stamps else None,
                'peak_rss_bytes': vm_hwm_bytes(),
                'wall_s': wall,
                'test': test,
                'checkpoint': saved[-1] if saved else None,
                'torch': torch.__version__,
            }
        )
    )


# ---------------------------------------------------------------------------------------------------------------
# predict: predict.py's main() body once per row, its console questions answered from the rows file


def predict(a):
    import torch

    cfg = setup(a)
    pred = load_script(a.deepke, 'predict')
    lm_class = sys.modules['deepke.relation_extraction.standard.models.LM'].LM
    logits = []
    torch.nn.modules.module.register_module_forward_hook(
        lambda m, i, o: logits.append(o.detach()) if isinstance(m, lm_class) else None
    )
    said = []

    class Said(logging.Handler):
        def emit(self, record):
            said.append(record.getMessage())

    logging.getLogger(pred.__name__).addHandler(Said())
    relations = [r['relation'] for r in sorted(read_csv(os.path.join(a.project, cfg.data_path, 'relation.csv')),
                                               key=lambda r: int(r['index']))]
    out = []
    with open(a.rows, encoding='utf-8') as f:
        rows = [json.loads(line) for line in f if line.strip()]
    real_input = builtins.input
    for row in rows:
        answers = iter(['n', row['text'], row['head'], row.get('head_type', ''), row['tail'], row.get('tail_type', '')])
        builtins.input = lambda prompt='': next(answers)
        logits.clear()
        try:
            pred.main(cfg.copy())
        finally:
            builtins.input = real_input
        probs = [torch.softmax(l, dim=-1)[0] for l in logits]  # one per 512-token piece; predict.py keeps the surest
        best = max(probs, key=lambda p: p.max().item())
        out.append({'relation': relations[int(best.argmax())], 'score': float(best.max()),
                    'probs': {relations[i]: float(p) for i, p in enumerate(best)}, 'said': said[-1]})
    print(json.dumps({'predictions': out}, ensure_ascii=False))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    pp = sub.add_parser('prepare')
    pp.add_argument('--data', required=True, help="DeepKE's sample data: train/valid/test/relation.csv")
    pp.add_argument('--vocab', required=True)
    pp.add_argument('--project', required=True)
    for k in ('train', 'valid', 'test', 'layers', 'hidden'):
        pp.add_argument('--' + k, type=int, required=True)
    for name in ('train', 'predict'):
        q = sub.add_parser(name)
        q.add_argument('--deepke', required=True, help='a DeepKE source folder (example/ and src/)')
        q.add_argument('--project', required=True, help='the folder holding conf/ and data/origin/ (DeepKE cwd)')
        if name == 'train':
            q.add_argument('--dynamic-padding', action='store_true')
        else:
            q.add_argument('--rows', required=True, help='JSON lines {text, head, head_type, tail, tail_type}')
        q.add_argument('overrides', nargs='*')
    a = p.parse_args()
    {'prepare': prepare, 'train': train, 'predict': predict}[a.cmd](a)


if __name__ == '__main__':
    main()
