//! Photos in, as torchvision prepares them: our decoding, resize and centre crop against PIL
//! 9.4 and torchvision 0.14 on generated photos (`bench/peers/preprocess_fixture.py`, files
//! in `tests/fixtures/`).

use std::path::{Path, PathBuf};

use blindspot_imagenet::resize::{center_crop, resize_bilinear};
use blindspot_imagenet::{ImagenetError, Photo, Preprocess, read_folder};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

#[test]
fn resize_and_crop_equal_torchvisions_level_for_level() {
    for (input, expected) in [
        ("landscape.png", "landscape-224.png"),
        ("portrait-grey.png", "portrait-grey-224.png"),
    ] {
        let photo = Photo::read(&fixture(input)).unwrap();
        let ours = Preprocess::IMAGENET.apply(&photo).unwrap();
        let theirs = Photo::read(&fixture(expected)).unwrap();
        assert_eq!((ours.width(), ours.height()), (224, 224), "{input}");
        let differing = ours
            .rgb()
            .iter()
            .zip(theirs.rgb())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differing, 0,
            "{input}: {differing} levels differ from torchvision's"
        );
    }
}

#[test]
fn grey_photos_become_three_equal_channels() {
    let grey = Photo::read(&fixture("portrait-grey.png")).unwrap();
    assert_eq!((grey.width(), grey.height()), (150, 211));
    assert!(grey.rgb().chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]));
}

#[test]
fn jpeg_decodes_as_pil_does_but_for_rounding() {
    let ours = Photo::read(&fixture("landscape.jpg")).unwrap();
    let pil = Photo::read(&fixture("landscape-jpg-rgb.png")).unwrap();
    assert_eq!((ours.width(), ours.height()), (301, 200));
    let diffs: Vec<i32> = ours
        .rgb()
        .iter()
        .zip(pil.rgb())
        .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
        .collect();
    let worst = diffs.iter().max().copied().unwrap_or(0);
    let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
    // Two IDCTs, chroma upsamplings and colour conversions (libjpeg's and zune-jpeg's) round
    // differently: measured worst 4 levels, mean 0.39. A swapped channel or a wrong colour
    // matrix is off by tens of levels on this photo.
    assert!(worst <= 5 && mean < 0.5, "worst {worst}, mean {mean}");
}

#[test]
fn a_written_png_reads_back_the_same_and_pixels_round_trip() {
    let photo = Photo::read(&fixture("landscape.png")).unwrap();
    let small = center_crop(&resize_bilinear(&photo, 40, 30).unwrap(), 30).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out").join("small.png");
    small.write_png(&path).unwrap();
    let back = Photo::read(&path).unwrap();
    assert_eq!(back.rgb(), small.rgb());
    assert_eq!(back.name(), "small");
    let again = Photo::from_pixels("again", 30, 30, &small.to_pixels()).unwrap();
    assert_eq!(again.rgb(), small.rgb());
}

#[test]
fn folders_list_their_photos_in_order_and_bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        read_folder(dir.path()),
        Err(ImagenetError::NoPhotos(_))
    ));
    for name in ["b.PNG", "a.jpg"] {
        let source = if name.ends_with("jpg") {
            "landscape.jpg"
        } else {
            "portrait-grey.png"
        };
        std::fs::copy(fixture(source), dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not a photo").unwrap();
    let photos = read_folder(dir.path()).unwrap();
    let names: Vec<&str> = photos.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["a", "b"]);
    std::fs::write(dir.path().join("c.png"), "not a png").unwrap();
    match read_folder(dir.path()) {
        Err(ImagenetError::Decode { path, reason }) => {
            assert!(path.ends_with("c.png"), "{}", path.display());
            assert!(reason.contains("neither"), "{reason}");
        }
        other => panic!("expected c.png to be refused, got {other:?}"),
    }
    let truncated = std::fs::read(fixture("landscape.png")).unwrap();
    std::fs::write(dir.path().join("c.png"), &truncated[..truncated.len() / 2]).unwrap();
    assert!(matches!(
        read_folder(dir.path()),
        Err(ImagenetError::Decode { .. })
    ));
}
