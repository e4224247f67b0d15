//! `inspect`: what an image holds, without booting it. The MBR gives the FAT
//! partition; mtools reads `ringwall.info` and the config off it; the config
//! is printed through the appliance parser's `Display`, which redacts keys.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::config;
use crate::disk::{find_efi_partition, SECTOR};
use crate::error::Error;
use crate::grubcfg::{CONFIG_PATH, INFO_PATH};
use crate::host;
use crate::info::BuildInfo;
use crate::tools;

/// The report `inspect` prints.
pub fn inspect(image: &Path) -> Result<String, Error> {
    let unreadable = |source| Error::ImageUnreadable {
        path: image.to_path_buf(),
        source,
    };
    let mut file = File::open(image).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    let mut sector0 = vec![0u8; SECTOR.min(len as usize)];
    file.read_exact(&mut sector0).map_err(unreadable)?;
    drop(file);
    let part = find_efi_partition(&sector0, len).map_err(|reason| Error::ImageLayout {
        path: image.to_path_buf(),
        reason,
    })?;

    let missing = host::missing(host::FOR_INSPECT);
    if !missing.is_empty() {
        return Err(Error::MissingHostTools(missing));
    }
    let not_ours = |what: &str| Error::NotAnImage {
        path: image.to_path_buf(),
        reason: format!("no readable {what} on its FAT partition"),
    };
    let info_text =
        tools::mcopy_out(image, part.offset, INFO_PATH).map_err(|_| not_ours(INFO_PATH))?;
    let info = BuildInfo::parse(&String::from_utf8_lossy(&info_text))
        .ok_or_else(|| not_ours(INFO_PATH))?;
    let conf = config::ConfigBytes::new(
        tools::mcopy_out(image, part.offset, CONFIG_PATH).map_err(|_| not_ours(CONFIG_PATH))?,
    );

    let mut out = format!(
        "image:          {}\nsize:           {} bytes\nkernel version: {}\nbuild commit:   {}\nkernel from:    {}\nbuilt:          {}\nserial console: {}\nbuilt by:       {}\n\n",
        image.display(),
        len,
        info.kernel_version,
        info.commit,
        info.kernel_source,
        info.built,
        info.serial,
        info.builder,
    );
    match config::check(conf.as_bytes()) {
        Ok(c) => {
            out.push_str("# baked config (keys redacted)\n");
            out.push_str(&c.to_string());
        }
        Err(errors) => {
            // Never print the raw file: it holds the private key.
            out.push_str("# the baked config does not parse:\n");
            for e in errors {
                out.push_str(&format!("#   {e}\n"));
            }
        }
    }
    Ok(out)
}
