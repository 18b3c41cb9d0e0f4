#!/bin/bash
# build_apt_repo.sh OUT PORT -- signed multi-suite lab repo under OUT/www, key in OUT/gnupg
#
# Suites (TESTLAB §2.1, extended for the classification rules of FEATURES CAT-20):
#   lab            Origin Lab,  Label Lab            base release
#   lab-security   Origin Lab,  Label Lab-Security   security pocket
#   lab-updates    Origin Lab,  Label Lab            bugfix pocket (+ a phased and a blocked update)
#   lab-backports  Origin Lab,  Label Lab Backports  backports
#   thirdparty     Origin Acme, Label Acme           third-party vendor
# Packages are Architecture: all. Install-fault packages (issue 3, items 6 and 7):
#   demo-conflict 1.0-2  also ships /usr/bin/demo-tool: dpkg refuses, "trying to overwrite"
#   demo-slow     1.0-2  preinst waits 30 s the first time (kill -9 tests), then no more
#   demo-reboot   1.0-2  postinst touches var/run/reboot-required (reboot tests); both
#                        versions ship the conffile /etc/demo-reboot.conf, so a local
#                        edit makes dpkg ask unless told what to do (no-prompt tests)
# Their maintainer scripts run on the HOST under --force-script-chrootless (TESTLAB
# §2.5): they write only below "${DPKG_ROOT}" and refuse to run without it. The
# other packages have no maintainer scripts.
set -euo pipefail
OUT=$1 PORT=$2
mkdir -p "$OUT"/{www,gnupg} && chmod 700 "$OUT/gnupg" && cd "$OUT"
export GNUPGHOME=$OUT/gnupg
gpg --batch -q --passphrase '' --quick-gen-key 'Lab Repo <repo@example.invalid>' ed25519 sign never
gpg --batch -q --export repo@example.invalid > lab-archive-keyring.gpg

# PACKAGE VERSION SUITE SECTION CHANGELOG-NOTE
PACKAGES='
demo-tool     1.0-1       lab           utils  Initial release.
demo-tool     1.0-2       lab-security  utils  Fix buffer overflow in parser (CVE-2024-0001).
demo-lib      1.0-1       lab           libs   Initial release.
demo-lib      1.1-1       lab-updates   libs   Fix crash on empty input.
demo-held     1.0-1       lab           utils  Initial release.
demo-held     1.0-2       lab-security  utils  Fix path traversal (CVE-2024-0002).
demo-phased   1.0-1       lab           utils  Initial release.
demo-phased   1.0-2       lab-updates   utils  Fix typo in help text.
firmware-demo 1.0-1       lab           non-free-firmware/kernel  Initial release.
firmware-demo 1.1-1       lab-updates   non-free-firmware/kernel  New firmware blob.
demo-extra    1.0-1       lab           utils  Initial release.
demo-extra    2.0-1~bpo1  lab-backports utils  New upstream release, backported.
acme-agent    1.0-1       thirdparty    admin  Initial release.
acme-agent    1.1-1       thirdparty    admin  Faster check-ins.
demo-blocked  1.0-1       lab           utils  Initial release.
demo-blocked  1.1-1       lab-updates   utils  Needs a library no suite provides.
demo-conflict 1.0-1       lab           utils  Initial release.
demo-conflict 1.0-2       lab-updates   utils  Ships a file of demo-tool by mistake.
demo-slow     1.0-1       lab           utils  Initial release.
demo-slow     1.0-2       lab-updates   utils  Slow upgrade: the preinst takes a while.
demo-reboot   1.0-1       lab           utils  Initial release.
demo-reboot   1.0-2       lab-updates   utils  Core fix that asks for a reboot.
'
# SUITE ORIGIN LABEL (label may contain spaces: rest of line)
SUITES='
lab           Lab  Lab
lab-security  Lab  Lab-Security
lab-updates   Lab  Lab
lab-backports Lab  Lab Backports
thirdparty    Acme Acme
'
PHASED='demo-phased 1.0-2 0'   # PACKAGE VERSION Phased-Update-Percentage
BLOCKED='demo-blocked 1.1-1'   # PACKAGE VERSION that Depends on a package no suite has (kept back)
CONFLICT='demo-conflict 1.0-2' # PACKAGE VERSION that also ships /usr/bin/demo-tool
SLOW='demo-slow 1.0-2'         # PACKAGE VERSION whose preinst waits (once per endpoint)
REBOOT='demo-reboot 1.0-2'     # PACKAGE VERSION whose postinst asks for a reboot
CONFFILE='demo-reboot'         # PACKAGE whose versions ship /etc/PACKAGE.conf as a conffile
# preinst of $SLOW: marks its start, then waits the first time only (so a repair that
# reinstalls it is quick); a test polls for the marker and kills dpkg meanwhile.
SLOW_PREINST='#!/bin/sh
set -e
state="${DPKG_ROOT:?chrootless lab endpoints only}/var/lib/demo-slow"
mkdir -p "$state"
if [ ! -e "$state/preinst-started" ]; then
  echo "$$" > "$state/preinst-started"
  sleep 30
fi
'
REBOOT_POSTINST='#!/bin/sh
set -e
if [ "$1" = configure ]; then
  mkdir -p "${DPKG_ROOT:?chrootless lab endpoints only}/var/run"
  touch "$DPKG_ROOT/var/run/reboot-required"
  echo demo-reboot >> "$DPKG_ROOT/var/run/reboot-required.pkgs"
fi
'

mk() {  # mk PACKAGE VERSION SUITE SECTION NOTE
  local p=$1 v=$2 dist=$3 sec=$4 note=$5 d=$OUT/build/$1_$2
  mkdir -p "$d/DEBIAN" "$d/usr/bin" "$d/usr/share/doc/$p"
  printf 'Package: %s\nVersion: %s\nArchitecture: all\nSection: %s\nPriority: optional\nMaintainer: Lab <lab@example.invalid>\nDescription: %s for the patchfleet lab\n Tiny package used to test update detection.\n' \
    "$p" "$v" "$sec" "$p" > "$d/DEBIAN/control"
  [ "$p $v" != "$BLOCKED" ] || echo 'Depends: demo-missing (>= 1)' >> "$d/DEBIAN/control"
  printf '#!/bin/sh\necho %s %s\n' "$p" "$v" > "$d/usr/bin/$p"; chmod 755 "$d/usr/bin/$p"
  [ "$p $v" != "$CONFLICT" ] || cp "$d/usr/bin/$p" "$d/usr/bin/demo-tool"
  [ "$p $v" != "$SLOW" ] || { printf '%s' "$SLOW_PREINST" > "$d/DEBIAN/preinst"; chmod 755 "$d/DEBIAN/preinst"; }
  [ "$p $v" != "$REBOOT" ] || { printf '%s' "$REBOOT_POSTINST" > "$d/DEBIAN/postinst"; chmod 755 "$d/DEBIAN/postinst"; }
  [ "$p" != "$CONFFILE" ] || { mkdir -p "$d/etc"; echo "setting=$v" > "$d/etc/$p.conf"; echo "/etc/$p.conf" > "$d/DEBIAN/conffiles"; }
  local cl=www/changelogs/main/${p:0:1}/$p   # plain-text changelog for `apt-get changelog`
  mkdir -p "$cl"
  printf '%s (%s) %s; urgency=high\n\n  * %s\n\n -- Lab <lab@example.invalid>  Tue, 02 Jan 2024 00:00:00 +0000\n' \
    "$p" "$v" "$dist" "$note" > "$cl/${p}_${v}_changelog"
  gzip -9nc "$cl/${p}_${v}_changelog" > "$d/usr/share/doc/$p/changelog.Debian.gz"
  mkdir -p "www/pool/main/${p:0:1}/$p"
  dpkg-deb -Zgzip -z1 --root-owner-group --build "$d" "www/pool/main/${p:0:1}/$p/${p}_${v}_all.deb" >/dev/null &
  pids+=($!)
  printf '%s %s\n' "$p" "$v" >> "sel-$dist"
}
pids=()
while read -r p v dist sec note; do
  [ -n "$p" ] && mk "$p" "$v" "$dist" "$sec" "$note"
done <<<"$PACKAGES"
for pid in "${pids[@]}"; do wait "$pid"; done   # builds run in parallel; any failure aborts

cd www
apt-ftparchive packages pool > ../all-Packages
while read -r suite origin label; do
  [ -n "$suite" ] || continue
  dir=dists/$suite/main/binary-amd64 && mkdir -p "$dir"
  # keep the stanzas selected for this suite; add Phased-Update-Percentage where asked
  awk -v ORS="\n\n" -v sel="../sel-$suite" -v phased="$PHASED" '
    BEGIN { while ((getline l < sel) > 0) want[l] = 1; split(phased, ph, " "); RS = "" }
    { match($0, /Package: [^\n]+/); p = substr($0, RSTART + 9, RLENGTH - 9)
      match($0, /\nVersion: [^\n]+/); v = substr($0, RSTART + 10, RLENGTH - 10)
      if (!((p " " v) in want)) next
      if (p == ph[1] && v == ph[2]) $0 = $0 "\nPhased-Update-Percentage: " ph[3]
      print }' ../all-Packages > "$dir/Packages"
  gzip -9nkf "$dir/Packages"
  apt-ftparchive -o APT::FTPArchive::Release::Origin="$origin" -o APT::FTPArchive::Release::Label="$label" \
    -o APT::FTPArchive::Release::Suite="$suite" -o APT::FTPArchive::Release::Codename="$suite" \
    -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main \
    release "dists/$suite" > Release.tmp && mv Release.tmp "dists/$suite/Release"
  sed -i "1i Changelogs: http://127.0.0.1:$PORT/changelogs/@CHANGEPATH@_changelog" "dists/$suite/Release"
  gpg --batch -q --yes -u repo@example.invalid --clearsign -o "dists/$suite/InRelease" "dists/$suite/Release"
  gpg --batch -q --yes -u repo@example.invalid -abs -o "dists/$suite/Release.gpg" "dists/$suite/Release"
done <<<"$SUITES"
