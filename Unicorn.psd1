@{
    RootModule           = 'Unicorn.Cmdlets.dll'
    ModuleVersion        = '0.1.0' # stamped by build.ps1 from Directory.Build.props
    GUID                 = '5b0f6f1e-8a0c-4b7e-9d55-3c3f2b9a6e11'
    Author               = 'The Unicorn team'
    CompanyName          = 'Unicorn'
    Copyright            = '(c) The Unicorn team. MIT License.'
    Description          = 'A Linux container runtime driven from PowerShell: overlay root filesystems, namespaces, cgroups and networks as objects that pipe into each other.'
    PowerShellVersion    = '7.6'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('Unicorn.Format.ps1xml')
    CmdletsToExport      = @(
        'New-UnicornRootfs'
        'Get-UnicornRootfs'
        'Remove-UnicornRootfs'
        'Start-UnicornContainer'
        'Get-UnicornContainer'
        'Remove-UnicornContainer'
        'Stop-UnicornContainer'
        'Restart-UnicornContainer'
        'Wait-UnicornContainer'
        'Get-UnicornContainerLog'
        'Invoke-UnicornCommand'
        'Enter-UnicornContainer'
        'New-UnicornSession'
        'Copy-UnicornItem'
        'Set-UnicornCgroup'
        'Get-UnicornCgroup'
        'Connect-UnicornBridge'
        'Disconnect-UnicornBridge'
        'Get-UnicornBridge'
        'Remove-UnicornBridge'
        'Import-UnicornImage'
        'Get-UnicornImage'
        'Remove-UnicornImage'
        'Export-UnicornRootfs'
        'Remove-UnicornLeftover'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('Linux', 'Containers', 'Namespaces', 'cgroups', 'overlayfs')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}
