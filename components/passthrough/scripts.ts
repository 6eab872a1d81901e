/**
 * Shell script generators: detect (read-only facts as JSON), apply (idempotent host changes, JSON report) and
 * verify (binding and group viability, JSON report). Pure functions of validated inputs; every script re-checks
 * its inputs itself, runs with `set -euo pipefail`, writes human output to stderr and exactly one JSON document
 * to stdout. Bash is required (Debian and Ubuntu ship it).
 *
 * The shell text below is written without `${…}` so it can live in plain template strings; values are passed
 * in a small header of single-quoted assignments produced by {@link shQuote}.
 */
import { PCI_ADDRESS_PATTERN, PCI_ID_PATTERN, isPciAddress, isPciId, uniqueSorted } from "../../provider/rules/pci";
import { shQuote } from "./shell";

/** Devices a script looks at. Both lists hold normalised values only. */
export interface Targets {
  /** Addresses claimed by address (driver_override). */
  addresses: readonly string[];
  /** vendor:device ids claimed by id (every matching device). */
  ids: readonly string[];
}

/** One managed file: its content, or `null` for "must not exist". */
export interface ManagedFile {
  /** Absolute path on the host. */
  path: string;
  /** Octal permission bits. */
  mode: "0644" | "0755";
  /** Exact content, or null to remove the file if present. */
  content: string | null;
  /** What must run when the file changed. */
  effect: "grub" | "initramfs" | "sysctl" | "none";
}

/** Inputs of the apply script. */
export interface ApplyScriptInput extends Targets {
  /** Kernel arguments that must appear in /proc/cmdline after the next boot. */
  kernelArgs: readonly string[];
  /** Files to converge. */
  files: readonly ManagedFile[];
  /** Rebind target devices to vfio-pci now (unbinding their current driver) when an IOMMU is active. */
  bindNow: boolean;
}

/** Inputs of the verify script. */
export interface VerifyScriptInput extends Targets {
  kernelArgs: readonly string[];
}

const PATH_SHAPE = /^\/etc\/[A-Za-z0-9._\/-]+$/;
const ARG_SHAPE = /^[A-Za-z0-9_][A-Za-z0-9_.,:\/+=-]*$/;

function header(kind: string, t: Targets, extra: Record<string, string> = {}): string {
  const addresses = uniqueSorted(t.addresses);
  const ids = uniqueSorted(t.ids);
  for (const a of addresses) if (!isPciAddress(a)) throw new Error(`${kind}: bad PCI address ${JSON.stringify(a)}`);
  for (const i of ids) if (!isPciId(i)) throw new Error(`${kind}: bad PCI id ${JSON.stringify(i)}`);
  const lines = [
    "#!/bin/bash",
    `# pulumi-lxd-hardened passthrough ${kind} script (generated; do not edit).`,
    `PT_ADDRS=${shQuote(addresses.join(" "))}`,
    `PT_IDS=${shQuote(ids.join(" "))}`,
    `ADDR_RE=${shQuote(PCI_ADDRESS_PATTERN)}`,
    `ID_RE=${shQuote(PCI_ID_PATTERN)}`,
  ];
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}=${shQuote(v)}`);
  return lines.join("\n") + "\n";
}

/** Shell helpers shared by the three scripts (bash). */
const LIB = String.raw`
set -euo pipefail
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
exec 3>&1 1>&2
PCI=/sys/bus/pci/devices

jstr() {
  local s
  s=$(printf '%s' "$1" | tr -d '\000-\010\013-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr '\t\n' '  ')
  printf '"%s"' "$s"
}
jarr() {
  local out="" x
  for x in "$@"; do out="$out,$(jstr "$x")"; done
  printf '[%s]' "$(printf '%s' "$out" | sed 's/^,//')"
}
jbool() { if [ "$1" = 1 ]; then printf true; else printf false; fi; }
jnum_or_null() { if [ -n "$1" ]; then printf '%s' "$1"; else printf null; fi; }
die() {
  printf '{"ok":false,"error":%s}\n' "$(jstr "$1")" >&3
  echo "passthrough: $1" >&2
  exit 3
}

# Inputs are validated by the generator; check again here so a hand-edited script cannot inject paths.
for a in $PT_ADDRS; do [[ "$a" =~ $ADDR_RE ]] || die "invalid PCI address '$a'"; done
for i in $PT_IDS; do [[ "$i" =~ $ID_RE ]] || die "invalid PCI id '$i'"; done
[ "$(id -u)" = 0 ] || die "must run as root (uid 0), but runs as uid $(id -u)"

rd() { if [ -r "$1" ]; then tr -d '\n' < "$1" 2>/dev/null || true; fi; }
dev_id() { printf '%s:%s' "$(rd "$PCI/$1/vendor" | sed 's/^0x//')" "$(rd "$PCI/$1/device" | sed 's/^0x//')"; }
dev_driver() { if [ -L "$PCI/$1/driver" ]; then basename "$(readlink -f "$PCI/$1/driver")"; fi; }
dev_group() { if [ -L "$PCI/$1/iommu_group" ]; then basename "$(readlink -f "$PCI/$1/iommu_group")"; fi; }
dev_class() { rd "$PCI/$1/class"; }
dev_is_bridge() { case "$(dev_class "$1")" in 0x0604*|0x0607*) return 0 ;; esac; return 1; }
group_members() { if [ -d "/sys/kernel/iommu_groups/$1/devices" ]; then ls "/sys/kernel/iommu_groups/$1/devices" | sort; fi; }

# Modules that drive a device: its current driver's module plus what its modalias resolves to.
dev_host_modules() {
  local alias mods=""
  if [ -L "$PCI/$1/driver/module" ]; then mods="$(basename "$(readlink -f "$PCI/$1/driver/module")")"; fi
  alias=$(rd "$PCI/$1/modalias")
  if [ -n "$alias" ]; then mods="$mods $(modprobe -R "$alias" 2>/dev/null | tr '\n' ' ' || true)"; fi
  for m in $mods; do
    m=$(printf '%s' "$m" | tr '-' '_')
    case "$m" in vfio*|pci_stub) ;; *) echo "$m" ;; esac
  done | sort -u | tr '\n' ' '
}

# Block devices below a PCI device that are mounted, used as swap or held by another block device.
dev_storage_in_use() {
  local devpath b p name majmin
  devpath=$(readlink -f "$PCI/$1")
  for b in /sys/class/block/*; do
    [ -e "$b" ] || continue
    p=$(readlink -f "$b")
    case "$p" in "$devpath"/*) ;; *) continue ;; esac
    name=$(basename "$b")
    majmin=$(rd "$b/dev")
    if awk -v mm="$majmin" '$3 == mm { f = 1 } END { exit !f }' /proc/self/mountinfo \
       || grep -q "^/dev/$name " /proc/swaps \
       || [ -n "$(ls -A "$b/holders" 2>/dev/null)" ]; then
      echo "$name"
    fi
  done | sort -u | tr '\n' ' '
}

# State of a module for the running kernel: builtin, module or missing.
module_state() {
  local kver m pat
  kver=$(uname -r); m=$1
  pat=$(printf '%s' "$m" | sed 's/[-_]/[-_]/g')
  if grep -Eq "/$pat\.ko(\.[a-z]+)?$" "/lib/modules/$kver/modules.builtin" 2>/dev/null; then echo builtin
  elif modinfo -k "$kver" -F filename "$m" >/dev/null 2>&1; then echo module
  else echo missing; fi
}

# Boot loader: grub (Debian/Ubuntu update-grub), or one this component refuses to manage.
boot_loader() {
  local f
  BL_DETAIL=""
  if command -v bootctl >/dev/null 2>&1 && bootctl is-installed >/dev/null 2>&1; then
    BL_KIND=systemd-boot; BL_DETAIL="bootctl reports systemd-boot installed"; return
  fi
  for f in /boot/efi/EFI/systemd /efi/EFI/systemd /boot/EFI/systemd; do
    if [ -d "$f" ]; then BL_KIND=systemd-boot; BL_DETAIL="$f exists"; return; fi
  done
  for f in /boot/efi/EFI/Linux /efi/EFI/Linux /boot/EFI/Linux; do
    if ls "$f"/*.efi >/dev/null 2>&1; then BL_KIND=uki; BL_DETAIL="unified kernel images in $f"; return; fi
  done
  if grep -qs '^layout=uki' /etc/kernel/install.conf; then BL_KIND=uki; BL_DETAIL="/etc/kernel/install.conf sets layout=uki"; return; fi
  if command -v grubby >/dev/null 2>&1 || grep -qs '^GRUB_ENABLE_BLSCFG=true' /etc/default/grub; then
    BL_KIND=grubby-bls; BL_DETAIL="grubby / BLS entries manage the kernel command line"; return
  fi
  if ls /boot/loader/entries/*.conf >/dev/null 2>&1; then
    BL_KIND=grubby-bls; BL_DETAIL="Boot Loader Specification entries in /boot/loader/entries"; return
  fi
  if [ -f /etc/default/grub ] && command -v update-grub >/dev/null 2>&1 && [ -f /boot/grub/grub.cfg ]; then
    BL_KIND=grub; BL_DETAIL="GRUB with update-grub and /etc/default/grub.d"; return
  fi
  BL_KIND=unknown; BL_DETAIL="no /etc/default/grub + update-grub + /boot/grub/grub.cfg found"
}

iommu_platform() {
  if [ -e /sys/firmware/acpi/tables/DMAR ]; then echo intel
  elif [ -e /sys/firmware/acpi/tables/IVRS ]; then echo amd
  else echo none; fi
}

secure_boot() {
  local f v
  if [ ! -d /sys/firmware/efi ]; then echo not-efi; return; fi
  f=$(ls /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e0a9e0b2a3f6 2>/dev/null || true)
  if [ -z "$f" ]; then echo unknown; return; fi
  v=$(od -An -tu1 -j4 -N1 "$f" | tr -d ' \n')
  if [ "$v" = 1 ]; then echo enabled; else echo disabled; fi
}

iommu_group_count() { ls /sys/kernel/iommu_groups 2>/dev/null | wc -l | tr -d ' '; }

# Target list: "address claim" lines; ids expand to every present device with that vendor:device.
TARGETS=""
MISSING=""
collect_targets() {
  local a i d
  for a in $PT_ADDRS; do
    if [ -d "$PCI/$a" ]; then TARGETS="$TARGETS $a=address"; else MISSING="$MISSING address:$a"; fi
  done
  for i in $PT_IDS; do
    local found=0
    for d in $(ls "$PCI" | sort); do
      if [ "$(dev_id "$d")" = "$i" ]; then
        found=1
        case " $TARGETS " in *" $d="*) ;; *) TARGETS="$TARGETS $d=id" ;; esac
      fi
    done
    [ "$found" = 1 ] || MISSING="$MISSING id:$i"
  done
  # One order whatever the claim: by address.
  TARGETS=$(printf '%s\n' $TARGETS | sort | tr '\n' ' ' | sed 's/^ *//; s/ *$//')
}
is_target() { case " $TARGETS " in *" $1="*) return 0 ;; esac; return 1; }

# Reasons a target must not be handed to vfio-pci (one per line).
refusals() {
  local t a grp m drv bv inuse
  for m in $MISSING; do echo "no PCI device matches $m"; done
  for t in $TARGETS; do
    a=$(printf '%s' "$t" | cut -d= -f1)
    bv=$(rd "$PCI/$a/boot_vga")
    [ "$bv" = 1 ] && echo "$a is the boot VGA device (boot_vga=1): the host console would be lost"
    dev_is_bridge "$a" && echo "$a is a PCI bridge ($(dev_class "$a")): bridges cannot be assigned"
    inuse=$(dev_storage_in_use "$a")
    [ -n "$inuse" ] && echo "$a backs block devices in use on this host: $(printf '%s' "$inuse" | sed 's/ *$//')"
    grp=$(dev_group "$a")
    if [ -n "$grp" ]; then
      for m in $(group_members "$grp"); do
        is_target "$m" && continue
        dev_is_bridge "$m" && continue
        drv=$(dev_driver "$m")
        case "$drv" in ""|vfio-pci|pci-stub) ;; *) echo "$a shares IOMMU group $grp with $m, which is in use by driver $drv" ;; esac
      done
    fi
  done
  return 0
}

# JSON array of an IOMMU group's members.
group_json() {
  local m parts=""
  for m in $(group_members "$1"); do
    parts="$parts,{\"address\":$(jstr "$m"),\"id\":$(jstr "$(dev_id "$m")"),\"class\":$(jstr "$(dev_class "$m")"),\"driver\":$(jstr "$(dev_driver "$m")"),\"bridge\":$(if dev_is_bridge "$m"; then printf true; else printf false; fi)}"
  done
  printf '[%s]' "$(printf '%s' "$parts" | sed 's/^,//')"
}

# JSON for one device.
dev_json() {
  local a=$1 claim=$2 grp members="[]"
  grp=$(dev_group "$a")
  [ -z "$grp" ] || members=$(group_json "$grp")
  printf '{"address":%s,"claim":%s,"id":%s,"class":%s,"driver":%s,"hostModules":%s,"iommuGroup":%s,"bootVga":%s,"bridge":%s,"storageInUse":%s,"group":%s}' \
    "$(jstr "$a")" "$(jstr "$claim")" "$(jstr "$(dev_id "$a")")" "$(jstr "$(dev_class "$a")")" "$(jstr "$(dev_driver "$a")")" \
    "$(jarr $(dev_host_modules "$a"))" "$(jnum_or_null "$grp")" "$(jbool "$(rd "$PCI/$a/boot_vga")")" \
    "$(if dev_is_bridge "$a"; then printf true; else printf false; fi)" "$(jarr $(dev_storage_in_use "$a"))" "$members"
}

targets_json() {
  local t parts=""
  for t in $TARGETS; do
    parts="$parts,$(dev_json "$(printf '%s' "$t" | cut -d= -f1)" "$(printf '%s' "$t" | cut -d= -f2)")"
  done
  printf '[%s]' "$(printf '%s' "$parts" | sed 's/^,//')"
}

lines_json() {
  local parts="" line
  while IFS= read -r line; do [ -n "$line" ] && parts="$parts,$(jstr "$line")"; done <<< "$1"
  printf '[%s]' "$(printf '%s' "$parts" | sed 's/^,//')"
}

missing_args() {
  local arg have
  have=" $(tr '\n' ' ' < /proc/cmdline) "
  for arg in $PT_ARGS; do case "$have" in *" $arg "*) ;; *) echo "$arg" ;; esac; done
  return 0
}
`;

const DETECT_MAIN = String.raw`
collect_targets
boot_loader
os_id=$( (set +u; . /etc/os-release 2>/dev/null && printf '%s' "$ID") || true)
os_like=$( (set +u; . /etc/os-release 2>/dev/null && printf '%s' "$ID_LIKE") || true)
os_ver=$( (set +u; . /etc/os-release 2>/dev/null && printf '%s' "$VERSION_ID") || true)
cpu=$(awk -F': *' '/^vendor_id/ { print $2; exit }' /proc/cpuinfo)
groups=$(iommu_group_count)
mods=""
for m in vfio vfio_iommu_type1 vfio_pci vfio_virqfd; do mods="$mods,\"$m\":$(jstr "$(module_state "$m")")"; done
printf '{"ok":true,"schema":1,"kernelRelease":%s,"os":{"id":%s,"idLike":%s,"versionId":%s},"cpuVendor":%s,"iommuPlatform":%s,"bootLoader":{"kind":%s,"detail":%s},"cmdline":%s,"iommuActive":%s,"iommuGroupCount":%s,"secureBoot":%s,"modules":{%s},"devices":%s,"missing":%s,"refusals":%s}\n' \
  "$(jstr "$(uname -r)")" "$(jstr "$os_id")" "$(jstr "$os_like")" "$(jstr "$os_ver")" "$(jstr "$cpu")" "$(jstr "$(iommu_platform)")" \
  "$(jstr "$BL_KIND")" "$(jstr "$BL_DETAIL")" "$(jstr "$(rd /proc/cmdline)")" "$(if [ "$groups" -gt 0 ]; then printf true; else printf false; fi)" "$groups" \
  "$(jstr "$(secure_boot)")" "$(printf '%s' "$mods" | sed 's/^,//')" "$(targets_json)" "$(jarr $MISSING)" "$(lines_json "$(refusals)")" >&3
`;

const VERIFY_MAIN = String.raw`
collect_targets
groups=$(iommu_group_count)
parts=""; gparts=""; seen=" "; all_viable=1; reboot=0
missing=$(missing_args)
[ -n "$missing" ] && reboot=1
for t in $TARGETS; do
  a=$(printf '%s' "$t" | cut -d= -f1)
  drv=$(dev_driver "$a"); grp=$(dev_group "$a"); viable=1; reason=""
  if [ -z "$grp" ]; then viable=0; reason="no IOMMU group (IOMMU inactive or device not isolated)"
  else
    for m in $(group_members "$grp"); do
      dev_is_bridge "$m" && continue
      md=$(dev_driver "$m")
      case "$md" in ""|vfio-pci|pci-stub) ;; *) viable=0; reason="$m in group $grp is bound to $md" ;; esac
    done
    case " $seen " in *" $grp "*) ;; *)
      seen="$seen $grp "
      gparts="$gparts,{\"group\":$grp,\"devices\":$(group_json "$grp")}" ;;
    esac
  fi
  [ "$drv" = vfio-pci ] || { reboot=1; [ -z "$reason" ] && reason="bound to '$drv', not vfio-pci"; viable=0; }
  [ "$viable" = 1 ] || all_viable=0
  parts="$parts,{\"address\":$(jstr "$a"),\"id\":$(jstr "$(dev_id "$a")"),\"driver\":$(jstr "$drv"),\"iommuGroup\":$(jnum_or_null "$grp"),\"viable\":$(jbool "$viable"),\"reason\":$(jstr "$reason")}"
done
[ -z "$MISSING" ] || all_viable=0
printf '{"ok":true,"kernelRelease":%s,"cmdline":%s,"missingArgs":%s,"iommuActive":%s,"iommuGroupCount":%s,"devices":[%s],"iommuGroups":[%s],"missing":%s,"viable":%s,"rebootRequired":%s}\n' \
  "$(jstr "$(uname -r)")" "$(jstr "$(rd /proc/cmdline)")" "$(jarr $missing)" "$(if [ "$groups" -gt 0 ]; then printf true; else printf false; fi)" "$groups" \
  "$(printf '%s' "$parts" | sed 's/^,//')" "$(printf '%s' "$gparts" | sed 's/^,//')" "$(jarr $MISSING)" "$(jbool "$all_viable")" "$(jbool "$reboot")" >&3
`;

const APPLY_MAIN = String.raw`
CHANGES=""
NEED_GRUB=0; NEED_INITRAMFS=0; NEED_SYSCTL=""
note() { CHANGES="$CHANGES
$1"; }
mark() {
  case "$1" in grub) NEED_GRUB=1 ;; initramfs) NEED_INITRAMFS=1 ;; sysctl) NEED_SYSCTL="$NEED_SYSCTL $2" ;; esac
}
# put_file PATH MODE EFFECT CONTENT: write only when content or mode differ; atomic rename in the same directory.
put_file() {
  local path=$1 mode=$2 effect=$3 content=$4 tmp
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.pt-XXXXXX")
  printf '%s' "$content" > "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c %a "$path")" = "$(printf '%s' "$mode" | sed 's/^0//')" ]; then
    rm -f "$tmp"; return 0
  fi
  chmod "$mode" "$tmp"; mv -f "$tmp" "$path"
  note "wrote $path"; mark "$effect" "$path"
}
absent_file() {
  local path=$1 effect=$2
  if [ -e "$path" ]; then rm -f "$path"; note "removed $path"; mark "$effect" "$path"; fi
}

# Load a sysctl.d file now: sysctl -p when procps is there, else straight into /proc/sys. Unknown keys are
# skipped (sysctl -e); returns non-zero when the kernel rejected a value.
apply_sysctl_file() {
  local k v p bad=0
  if command -v sysctl >/dev/null 2>&1; then sysctl -e -q -p "$1" || return 1; return 0; fi
  while IFS='=' read -r k v; do
    k=$(printf '%s' "$k" | tr -d ' \t')
    case "$k" in ''|'#'*|';'*) continue ;; esac
    v=$(printf '%s' "$v" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    p="/proc/sys/$(printf '%s' "$k" | tr . /)"
    [ -e "$p" ] || continue
    printf '%s\n' "$v" > "$p" 2>/dev/null || { echo "sysctl: $k = $v rejected" >&2; bad=1; }
  done < "$1"
  return "$bad"
}

boot_loader
[ "$BL_KIND" = grub ] || die "boot loader '$BL_KIND' is not supported ($BL_DETAIL): only GRUB with update-grub (Debian/Ubuntu) is managed; nothing was changed"
collect_targets
reasons=$(refusals)
[ -z "$reasons" ] || die "refusing to change the host: $(printf '%s' "$reasons" | tr '\n' ';' | sed 's/;/; /g')"
if [ -n "$PT_ADDRS$PT_IDS" ] && [ "$(module_state vfio_pci)" = missing ]; then die "kernel $(uname -r) has no vfio-pci module"; fi

apply_files

if [ "$NEED_GRUB" = 1 ]; then
  update-grub
  note "ran update-grub"
fi
# Whatever the reason, the generated grub.cfg must carry every argument: a silent no-op is a failure.
if [ -n "$PT_ARGS" ]; then
  for arg in $PT_ARGS; do
    grep -Eq "^[[:space:]]*linux[[:space:]].*[[:space:]]$(printf '%s' "$arg" | sed 's/[.+]/\\&/g')([[:space:]]|$)" /boot/grub/grub.cfg \
      || die "/boot/grub/grub.cfg has no '$arg' on its linux lines after update-grub: check /etc/default/grub and /etc/default/grub.d"
  done
fi
if [ "$NEED_INITRAMFS" = 1 ]; then
  update-initramfs -u -k all
  note "ran update-initramfs"
fi
for f in $NEED_SYSCTL; do
  if apply_sysctl_file "$f"; then note "applied $f"; else note "applied $f (some keys were rejected by the kernel: see stderr)"; fi
done

if [ "$PT_BIND_NOW" = 1 ] && [ "$(iommu_group_count)" -gt 0 ] && [ -n "$TARGETS" ]; then
  # Drivers before: loading vfio-pci may itself claim devices (ids, or driver_override from the install rule).
  before=""
  for t in $TARGETS; do a=$(printf '%s' "$t" | cut -d= -f1); before="$before $a=$(dev_driver "$a")"; done
  modprobe vfio-pci || die "modprobe vfio-pci failed"
  for t in $TARGETS; do
    a=$(printf '%s' "$t" | cut -d= -f1)
    was=$(printf '%s\n' $before | grep -F "$a=" | cut -d= -f2 || true)
    drv=$(dev_driver "$a")
    if [ "$drv" != vfio-pci ]; then
      echo vfio-pci > "$PCI/$a/driver_override"
      if [ -n "$drv" ]; then echo "$a" > "$PCI/$a/driver/unbind"; fi
      echo "$a" > /sys/bus/pci/drivers_probe || true
    fi
    now=$(dev_driver "$a")
    [ "$now" = vfio-pci ] || die "could not bind $a to vfio-pci (now '$now')"
    [ "$was" = vfio-pci ] || note "bound $a to vfio-pci (was $(if [ -n "$was" ]; then printf '%s' "$was"; else printf unbound; fi))"
  done
fi

reboot=0
missing=$(missing_args)
[ -n "$missing" ] && reboot=1
for t in $TARGETS; do
  a=$(printf '%s' "$t" | cut -d= -f1)
  [ "$(dev_driver "$a")" = vfio-pci ] || reboot=1
done
printf '{"ok":true,"changed":%s,"changes":%s,"rebootRequired":%s,"missingArgs":%s}\n' \
  "$(if [ -n "$CHANGES" ]; then printf true; else printf false; fi)" "$(lines_json "$CHANGES")" "$(jbool "$reboot")" "$(jarr $missing)" >&3
`;

/** Read-only detection: prints one JSON document (see `DetectionResult` in ./detection). */
export function renderDetectScript(t: Targets): string {
  return header("detect", t, { PT_ARGS: "" }) + LIB + DETECT_MAIN;
}

/** Verification: prints one JSON document (see `VerifyResult` in ./detection). */
export function renderVerifyScript(input: VerifyScriptInput): string {
  return header("verify", input, { PT_ARGS: checkedArgs(input.kernelArgs).join(" ") }) + LIB + VERIFY_MAIN;
}

/** The idempotent apply script: prints one JSON document (see `ApplyResult` in ./detection). Never reboots. */
export function renderApplyScript(input: ApplyScriptInput): string {
  const files = [...input.files].sort((a, b) => a.path.localeCompare(b.path));
  const seen = new Set<string>();
  const body = ["apply_files() {"];
  for (const f of files) {
    if (!PATH_SHAPE.test(f.path) || f.path.includes("..")) throw new Error(`apply: refusing path ${JSON.stringify(f.path)}`);
    if (seen.has(f.path)) throw new Error(`apply: ${f.path} is listed twice`);
    seen.add(f.path);
    body.push(
      f.content === null
        ? `  absent_file ${shQuote(f.path)} ${f.effect}`
        : `  put_file ${shQuote(f.path)} ${f.mode} ${f.effect} ${shQuote(f.content)}`,
    );
  }
  body.push("  return 0", "}");
  return (
    header("apply", input, {
      PT_ARGS: checkedArgs(input.kernelArgs).join(" "),
      PT_BIND_NOW: input.bindNow ? "1" : "0",
    }) +
    LIB +
    body.join("\n") +
    "\n" +
    APPLY_MAIN
  );
}

function checkedArgs(args: readonly string[]): string[] {
  for (const a of args) if (!ARG_SHAPE.test(a)) throw new Error(`refusing kernel argument ${JSON.stringify(a)}`);
  return [...args];
}
