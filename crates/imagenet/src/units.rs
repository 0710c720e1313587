//! Figures 3–4 on photos: the photos of a folder that most excite a unit of an AlexNet layer,
//! beside those that most excite a random direction, for `blindspot_units`' measurement.
//!
//! The paper ran section 3's experiment on AlexNet with ImageNet's validation set as the image
//! set. Here the image set is a folder of photos ([`PhotoSet::read`]), each brought to the
//! network's input by torchvision's transform. When the folder is split into class sub-folders
//! (torchvision's `ImageFolder` layout, which is how ImageNet's validation set is usually
//! kept), the sub-folder is the photo's label and the top-k sets are scored by label share too;
//! a flat folder is scored by the reference distance alone. The reference space must not be the
//! network under study: [`PhotoSet::thumbnails`] gives one that involves no network at all
//! (each photo shrunk to a few pixels a side with the same antialiased filter, so that two
//! photos are near when their colours and layout are), or the caller passes the features of
//! another network (`blindspot_units::layer_features`).
//!
//! The layers of [`blindspot_models::alexnet::AlexNet::hidden`] are named as the paper's
//! Table 5 names them: [`ALEXNET_LAYERS`], [`alexnet_layer`].

use std::path::{Path, PathBuf};

use blindspot_plot::Captioned;
use blindspot_report::figures::Raster;
use blindspot_units::TopK;

use crate::error::{ImagenetError, Result};
use crate::photo::{Photo, list, photo_paths};
use crate::resize::{Preprocess, resize_bilinear};

/// The hidden layers of AlexNet in the order of `AlexNet::hidden` (the ReLU outputs of the five
/// convolutions, after their pools, then of the two hidden fully connected layers).
pub const ALEXNET_LAYERS: [&str; 7] = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"];

/// The index into `AlexNet::hidden` of a layer given by name (`conv1`…`conv5`, `fc6`, `fc7`,
/// any case) or by index (`0`…`6`).
///
/// # Errors
/// [`ImagenetError::Invalid`] for anything else, listing the names.
pub fn alexnet_layer(given: &str) -> Result<usize> {
    let given = given.trim();
    let lower = given.to_lowercase();
    if let Some(i) = ALEXNET_LAYERS.iter().position(|&l| l == lower) {
        return Ok(i);
    }
    match given.parse::<usize>() {
        Ok(i) if i < ALEXNET_LAYERS.len() => Ok(i),
        _ => Err(ImagenetError::Invalid(format!(
            "unknown AlexNet layer `{given}`: give one of {} or an index 0–{}",
            ALEXNET_LAYERS.join(", "),
            ALEXNET_LAYERS.len() - 1
        ))),
    }
}

/// A folder of photos as the network sees them, with labels when the folder has classes.
#[derive(Debug, Clone)]
pub struct PhotoSet {
    /// The folder read.
    pub dir: PathBuf,
    /// The photos after the preprocessing (`crop × crop`), in order: by class folder, then by
    /// file name. Named `<class folder>/<file stem>` in a labelled set.
    pub inputs: Vec<Photo>,
    /// The class of each photo, an index into `classes`; `None` for a flat folder.
    pub labels: Option<Vec<u32>>,
    /// The class sub-folders that hold photos, in name order; empty for a flat folder.
    pub classes: Vec<String>,
}

impl PhotoSet {
    /// Reads every JPEG and PNG of `dir` and brings it to the network's input with
    /// `preprocess`. Either the photos lie directly in `dir` (no labels), or every photo lies
    /// in a sub-folder of `dir` and the sub-folder is its class (sub-folders without photos
    /// are skipped; deeper folders are not read). `progress(done, total)` is called after each
    /// photo. Only the cropped photos are kept (`3·crop²` bytes each).
    ///
    /// # Errors
    /// [`ImagenetError::NoPhotos`] if neither `dir` nor a sub-folder holds a photo;
    /// [`ImagenetError::Invalid`] if `dir` holds photos and class sub-folders both (a photo
    /// would have no class); the first error of listing, decoding or preprocessing a photo.
    pub fn read(
        dir: &Path,
        preprocess: &Preprocess,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Self> {
        let loose = photo_paths(dir)?;
        let mut folders: Vec<PathBuf> = list(dir)?.into_iter().filter(|p| p.is_dir()).collect();
        folders.sort();
        let mut classes = Vec::new();
        let mut files: Vec<(Option<u32>, PathBuf)> = Vec::new();
        for folder in folders {
            let paths = photo_paths(&folder)?;
            if paths.is_empty() {
                continue;
            }
            let class = classes.len() as u32;
            classes.push(
                folder
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            );
            files.extend(paths.into_iter().map(|p| (Some(class), p)));
        }
        if !classes.is_empty() && !loose.is_empty() {
            return Err(ImagenetError::Invalid(format!(
                "{} holds {} photo(s) beside class sub-folders ({}): put every photo in the \
                 folder of its class, or keep them all in one folder without sub-folders",
                dir.display(),
                loose.len(),
                classes.join(", ")
            )));
        }
        if classes.is_empty() {
            files = loose.into_iter().map(|p| (None, p)).collect();
        }
        if files.is_empty() {
            return Err(ImagenetError::NoPhotos(dir.to_owned()));
        }
        let total = files.len();
        let mut inputs = Vec::with_capacity(total);
        let mut labels = Vec::with_capacity(total);
        for (done, (class, path)) in files.into_iter().enumerate() {
            let input = preprocess.apply(&Photo::read(&path)?)?;
            let input = match class {
                Some(c) => {
                    labels.push(c);
                    let name = format!("{}/{}", classes[c as usize], input.name());
                    let (width, height) = (input.width(), input.height());
                    Photo::new(name, width, height, input.rgb().to_vec())?
                }
                None => input,
            };
            inputs.push(input);
            progress(done + 1, total);
        }
        Ok(Self {
            dir: dir.to_owned(),
            inputs,
            labels: (!classes.is_empty()).then_some(labels),
            classes,
        })
    }

    /// The number of photos.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether the set has no photo (never true of a set [`PhotoSet::read`] returns).
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// The photos as network input, `[n, 3·side·side]` channel-major in `[0, 1]`.
    pub fn pixels(&self) -> Vec<f32> {
        self.inputs.iter().flat_map(Photo::to_pixels).collect()
    }

    /// A reference space that involves no network: every photo shrunk to `side × side` with
    /// PIL's antialiased bilinear filter, `([n, 3·side·side], 3·side·side)` in `[0, 1]`. Two
    /// photos are near in it when their colours and coarse layout are.
    ///
    /// # Errors
    /// [`ImagenetError::Invalid`] if `side` is 0.
    pub fn thumbnails(&self, side: u32) -> Result<(Vec<f32>, usize)> {
        if side == 0 {
            return Err(ImagenetError::Invalid(
                "thumbnails need a side of at least 1 pixel".into(),
            ));
        }
        let mut out = Vec::with_capacity(self.len() * 3 * (side * side) as usize);
        for photo in &self.inputs {
            out.extend(resize_bilinear(photo, side, side)?.to_pixels());
        }
        Ok((out, 3 * (side * side) as usize))
    }
}

/// Figure 3 (units) or Figure 4 (random directions) on photos: one row per direction of
/// `top` listed in `rows`, its top-k photos best first, each captioned with its name and its
/// score `⟨φ(x), v⟩`; the first photo of a row also names the direction (`unit 17`,
/// `random 3`). `directions[d]` names row `d` of `top`.
///
/// # Errors
/// [`ImagenetError::Invalid`] if a row or an image index is out of range;
/// [`ImagenetError::Figure`] if the grid cannot be drawn (more than the plot's largest size).
pub fn units_figure(
    top: &TopK,
    rows: &[usize],
    directions: &[String],
    set: &PhotoSet,
    title: &str,
) -> Result<Raster> {
    let mut grid = Vec::with_capacity(rows.len());
    for &d in rows {
        if d >= top.directions || d >= directions.len() {
            return Err(ImagenetError::Invalid(format!(
                "row {d} of a figure of {} directions ({} named)",
                top.directions,
                directions.len()
            )));
        }
        let mut row = Vec::with_capacity(top.k);
        for (rank, (&i, &value)) in top.row(d).iter().zip(top.row_values(d)).enumerate() {
            let photo = set.inputs.get(i).ok_or_else(|| {
                ImagenetError::Invalid(format!("photo {i} of a set of {}", set.len()))
            })?;
            let score = if rank == 0 {
                format!("{}: {}", directions[d], significant(value))
            } else {
                significant(value)
            };
            row.push(Captioned {
                image: photo.to_raster(),
                caption: vec![photo.name().to_owned(), score],
            });
        }
        grid.push(row);
    }
    blindspot_plot::captioned_grid(&grid, Some(title))
        .map_err(|e| ImagenetError::Figure(e.to_string()))
}

/// `x` with four significant digits (activations of random and trained weights differ by
/// orders of magnitude).
fn significant(x: f32) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 8) as usize;
    format!("{x:.decimals$}")
}
