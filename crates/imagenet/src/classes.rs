//! The 1,000 ImageNet classes (ILSVRC 2012) in the order of torchvision's pretrained models,
//! their names as torchvision gives them (`torchvision.models._meta._IMAGENET_CATEGORIES`;
//! index 9 is "ostrich", the target of the paper's Figure 5).

use crate::error::{ImagenetError, Result};

/// The names, one per line, in class order.
const NAMES: &str = include_str!("../assets/imagenet_classes.txt");

/// Number of ImageNet classes.
pub const CLASS_COUNT: usize = 1000;

/// The name of class `id`, `None` out of range.
pub fn class_name(id: usize) -> Option<&'static str> {
    NAMES.lines().nth(id)
}

/// How captions and tables name class `class` of a model with `classes` classes: its ImageNet
/// name for a 1,000-class model, else `class <id>`.
pub fn class_label(class: usize, classes: usize) -> String {
    match class_name(class) {
        Some(name) if classes == CLASS_COUNT => name.to_owned(),
        _ => format!("class {class}"),
    }
}

/// A class from its id (`9`) or its name (`ostrich`, case and surrounding spaces ignored).
///
/// # Errors
/// [`ImagenetError::UnknownClass`] for anything else, with the names that contain the text
/// given as a hint.
pub fn parse_class(given: &str) -> Result<usize> {
    let text = given.trim();
    if let Ok(id) = text.parse::<usize>() {
        if id < CLASS_COUNT {
            return Ok(id);
        }
    } else if let Some(id) = NAMES.lines().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(id);
    }
    let lower = text.to_lowercase();
    let close: Vec<String> = NAMES
        .lines()
        .enumerate()
        .filter(|(_, n)| !lower.is_empty() && n.to_lowercase().contains(&lower))
        .take(5)
        .map(|(i, n)| format!("{n} ({i})"))
        .collect();
    Err(ImagenetError::UnknownClass {
        given: given.to_owned(),
        last: CLASS_COUNT - 1,
        hint: if close.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", close.join(", "))
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_a_thousand_distinct_names_in_torchvisions_order() {
        let names: Vec<&str> = NAMES.lines().collect();
        assert_eq!(names.len(), CLASS_COUNT);
        let distinct: std::collections::HashSet<&str> = names.iter().copied().collect();
        assert_eq!(distinct.len(), CLASS_COUNT);
        // Spot checks against the ILSVRC 2012 order (synsets n01440764, n01443537, n01518878).
        assert_eq!(class_name(0), Some("tench"));
        assert_eq!(class_name(1), Some("goldfish"));
        assert_eq!(class_name(9), Some("ostrich"));
        assert_eq!(class_name(999), Some("toilet tissue"));
        assert_eq!(class_name(1000), None);
    }

    #[test]
    fn classes_are_found_by_id_or_name() {
        assert_eq!(parse_class("9").unwrap(), 9);
        assert_eq!(parse_class(" Ostrich ").unwrap(), 9);
        assert_eq!(parse_class("great white shark").unwrap(), 2);
        match parse_class("shark") {
            Err(ImagenetError::UnknownClass { hint, .. }) => {
                assert!(hint.contains("great white shark (2)"), "{hint}")
            }
            other => panic!("expected an unknown class with hints, got {other:?}"),
        }
        assert!(matches!(
            parse_class("1000"),
            Err(ImagenetError::UnknownClass { .. })
        ));
    }
}
