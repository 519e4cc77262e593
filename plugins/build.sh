#!/bin/sh
# Builds the example plugins into plugins/build/ (git-ignored): NAME.wasm
# next to its manifest NAME.yaml, ready for `pdp serve` or `pdp plugin test`.
# The C example needs clang and lld (apt-get install -y clang lld).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/plugins/build"
mkdir -p "$out"
cd "$root"
for p in habit:habit_deviation device:device_risk model:fraud_model; do
	dir=${p%%:*} name=${p#*:}
	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o "$out/$name.wasm" "./plugins/examples/$dir"
	cp "plugins/examples/$dir/manifest.yaml" "$out/$name.yaml"
done
if command -v clang >/dev/null && command -v wasm-ld >/dev/null; then
	clang --target=wasm32 -O2 -nostdlib -ffreestanding -I plugins/sdk/c \
		-Wl,--no-entry -Wl,--stack-first -Wl,-z,stack-size=65536 \
		-o "$out/velocity_burst.wasm" plugins/examples/burst_c/burst.c
	cp plugins/examples/burst_c/manifest.yaml "$out/velocity_burst.yaml"
else
	echo "clang/wasm-ld not found: skipping the C example (apt-get install -y clang lld)" >&2
fi
ls -l "$out"
