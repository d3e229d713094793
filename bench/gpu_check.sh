#!/usr/bin/env bash
# On a CUDA machine: train specs/cifar.yaml's model for one epoch on cuda (fp32, then bf16) on
# CIFAR-format data, then classify an image with that checkpoint on the CPU, and time
# netspec against the seed loop with GPU-resident data.
# usage: bash bench/gpu_check.sh [WORK_DIR]      (needs torch with CUDA; no network)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
python=${PYTHON:-python3}
shared=../shared/bench
[ -d "$shared" ] || shared=shared/bench
"$python" -c "import torch; assert torch.cuda.is_available(), 'no CUDA here'; print('GPU:', torch.cuda.get_device_name())"
[ -d "$work/cifar/cifar-10-batches-py" ] || "$python" "$shared/make_cifar_format.py" "$work/cifar"
for precision in fp32 bf16; do
  "$python" -m netspec train specs/cifar.yaml --device cuda --set data.root="$work/cifar" \
    --set data.download=false --set train.epochs=1 --set train.precision=$precision \
    --set output.dir="$work/run-$precision" --set output.tensorboard=false
done
"$python" -c "from PIL import Image; import numpy as np; Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype('uint8')).save('$work/cat.png')"
CUDA_VISIBLE_DEVICES= "$python" -m netspec predict "$work/run-fp32/last.pt" "$work/cat.png" --top 3
CUDA_VISIBLE_DEVICES= "$python" -m netspec eval "$work/run-bf16/last.pt" --set data.root="$work/cifar" | head -3
"$python" bench/train_vs_seed.py --data "$work/cifar" --device cuda --digits-epochs 0
