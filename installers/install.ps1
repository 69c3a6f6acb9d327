# xdub installer for Windows: one step from nothing to "Dub clip".
#
#   powershell -ExecutionPolicy Bypass -File installers\install.ps1 [--torch cpu|cu126|cu128|cu130]
#       [--wheelhouse DIR] [--dry-run] [--no-setup] [-- xdub setup options]
#   powershell -ExecutionPolicy Bypass -File installers\install.ps1 --uninstall [--purge]
#
# Like install.sh, it only gets uv (a pinned release) and hands over to
# xdub\setup\environment.py (tested Python), then puts the launcher folder on the user's PATH.
# What it changes on the machine: docs\install.md.
$ErrorActionPreference = "Stop"
$UvVersion = "0.13.8"
$SourceDir = Split-Path -Parent $PSScriptRoot
$DataDir = if ($env:XDUB_DATA_DIR) { $env:XDUB_DATA_DIR } else { Join-Path $env:LOCALAPPDATA "xdub\xdub" }
$LauncherDir = Join-Path $DataDir "bin"
# The first folder of the data path that does not exist yet: uninstall removes what we create.
$Created = $null
$Folder = $DataDir
while (-not (Test-Path $Folder)) { $Created = $Folder; $Folder = Split-Path -Parent $Folder }
$env:UV_PYTHON_INSTALL_DIR = Join-Path $DataDir "app\python"

if ($args.Count -gt 0 -and $args[0] -eq "--uninstall") {
    & (Join-Path $LauncherDir "xdub.cmd") setup --uninstall @($args | Select-Object -Skip 1)
    $Status = $LASTEXITCODE
    # Windows cannot delete the running environment: finish the job now that it has exited.
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $DataDir "app")
    $UserPath = [Environment]::GetEnvironmentVariable("Path", "User")
    $Kept = ($UserPath -split ";") | Where-Object { $_ -and $_ -ne $LauncherDir }
    [Environment]::SetEnvironmentVariable("Path", ($Kept -join ";"), "User")
    exit $Status
}

function Find-Uv {
    foreach ($candidate in @($env:XDUB_UV, (Get-Command uv -ErrorAction SilentlyContinue).Source,
                             (Join-Path $DataDir "app\uv\uv.exe"))) {
        if ($candidate -and (Test-Path $candidate) -and
            ((& $candidate --version) -split " ")[1] -eq $UvVersion) { return $candidate }
    }
    return $null
}

$Uv = Find-Uv
if (-not $Uv) {
    Write-Host "getting uv $UvVersion into $DataDir\app\uv"
    $env:UV_INSTALL_DIR = Join-Path $DataDir "app\uv"
    $env:UV_NO_MODIFY_PATH = "1"
    Invoke-RestMethod "https://astral.sh/uv/$UvVersion/install.ps1" | Invoke-Expression
    $Uv = Find-Uv
    if (-not $Uv) { throw "could not get uv $UvVersion; see docs\install.md" }
}

$env:PYTHONPATH = $SourceDir
$Extra = if ($Created) { @("--created-root", $Created) } else { @() }
# No "--" before python: Windows PowerShell 5.1 drops it from a native command's arguments, and
# uv passes everything after the command name through unchanged anyway.
& $Uv run --no-project --no-config --no-cache --python 3.11 python -m xdub.setup.environment --uv $Uv @Extra @args
$Status = $LASTEXITCODE
$UserPath = [Environment]::GetEnvironmentVariable("Path", "User")
if ($Status -eq 0 -and ($UserPath -split ";") -notcontains $LauncherDir) {
    [Environment]::SetEnvironmentVariable("Path", "$UserPath;$LauncherDir", "User")
    Write-Host "added $LauncherDir to your PATH (open a new terminal to use xdub)"
}
exit $Status
