import Foundation

/// A single-line (stroke) sans-serif font for the PNG back end: every glyph is a few polylines and arcs,
/// drawn as anti-aliased strokes, so text scales, rotates and stays legible down to about 10 px.
///
/// Glyph units: the baseline is y = 0 with y up, capitals are 10 high, lower case 7, descenders reach −3.
/// A font size of `s` pixels makes capitals `0.72·s` high, as in common sans-serif fonts.
/// Covers printable ASCII and the symbols lrt's labels use (× ‖ − · … – — → ≈, superscript and subscript digits).
public enum StrokeFont {
    /// One glyph: its advance width and its strokes (polylines in glyph units).
    public struct Glyph: Sendable {
        public var advance: Double
        public var strokes: [[(x: Double, y: Double)]]
    }

    /// Pixels per glyph unit at font size 1.
    public static let unitsToEm = 0.072

    /// Extra space after each character of bold text, in glyph units (its strokes are wider).
    public static let boldTracking = 0.7

    /// The width of `text` in pixels at font size `size`.
    public static func width(of text: String, size: Double, bold: Bool = false) -> Double {
        text.reduce(0) { $0 + glyph(for: $1).advance + (bold ? boldTracking : 0) } * unitsToEm * size
    }

    /// The glyph drawn for `character` (a box for characters the font lacks).
    public static func glyph(for character: Character) -> Glyph {
        glyphs[character] ?? missing
    }

    // MARK: - The glyph table

    /// A glyph from a compact description: `"x,y x,y | …"` polylines separated by `|`, where `a:cx,cy,rx,ry,from,to`
    /// appends an elliptical arc (degrees, counter-clockwise from +x; `to < from` runs clockwise).
    static func parse(_ advance: Double, _ description: String) -> Glyph {
        var strokes: [[(x: Double, y: Double)]] = []
        for part in description.split(separator: "|") {
            var stroke: [(x: Double, y: Double)] = []
            for token in part.split(separator: " ") {
                if token.hasPrefix("a:") {
                    let numbers = token.dropFirst(2).split(separator: ",").map { Double($0)! }
                    let (cx, cy, rx, ry, from, to) = (numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5])
                    let segments = max(6, Int((abs(to - from) / 12).rounded(.up)))
                    for index in 0...segments {
                        let angle = (from + (to - from) * Double(index) / Double(segments)) * .pi / 180
                        stroke.append((cx + rx * cos(angle), cy + ry * sin(angle)))
                    }
                } else {
                    let numbers = token.split(separator: ",").map { Double($0)! }
                    stroke.append((numbers[0], numbers[1]))
                }
            }
            if !stroke.isEmpty { strokes.append(stroke) }
        }
        return Glyph(advance: advance, strokes: strokes)
    }

    /// `glyph` scaled by `scale` about the baseline and raised by `raise` units (super- and subscripts).
    static func shifted(_ glyph: Glyph, scale: Double, raise: Double) -> Glyph {
        Glyph(advance: glyph.advance * scale + 0.4,
              strokes: glyph.strokes.map { $0.map { (x: $0.x * scale + 0.2, y: $0.y * scale + raise) } })
    }

    static let missing = parse(7, "1,0 1,10 6,10 6,0 1,0")

    static let letterS = "a:4.2,7.5,3,2.5,20,270 a:4.2,2.5,3.2,2.5,90,-160"

    static let descriptions: [Character: (Double, String)] = [
        " ": (4, ""),
        "!": (3, "1.5,10 1.5,3 | 1.5,0.1 1.5,0"),
        "\"": (4.5, "1.3,10 1.3,7 | 3.2,10 3.2,7"),
        "#": (8.5, "3,10 2,0 | 6.5,10 5.5,0 | 1,6.5 8,6.5 | 0.6,3.5 7.6,3.5"),
        "$": (8.5, letterS + " | 4.2,11 4.2,-1"),
        "%": (10, "1,0 9,10 | a:2.5,8,1.5,2,0,360 | a:7.5,2,1.5,2,0,360"),
        "&": (9, "8.5,0 2.4,6.8 a:3.6,8.2,1.6,1.8,220,-40 a:3.5,2.6,2.6,2.6,120,330 7.5,4"),
        "'": (2.5, "1.2,10 1.2,7"),
        "(": (5, "a:6,3.5,4.5,7,115,245"),
        ")": (5, "a:-1,3.5,4.5,7,65,-65"),
        "*": (7, "3.5,10 3.5,5 | 1.3,8.8 5.7,6.2 | 5.7,8.8 1.3,6.2"),
        "+": (8, "4,8 4,2 | 1,5 7,5"),
        ",": (3, "1.6,0.5 1.6,0 0.6,-2"),
        "-": (6, "1,4 5,4"),
        ".": (3, "1.5,0.1 1.5,0"),
        "/": (6, "0.5,-1 5.5,10"),
        "0": (8, "a:4,5,3,5,0,360"),
        "1": (8, "2.2,8 4.5,10 4.5,0"),
        "2": (8, "a:4,7.2,2.9,2.8,155,-35 1,0 7,0"),
        "3": (8, "a:4,7.6,2.6,2.4,150,-90 a:4,2.6,3,2.6,90,-150"),
        "4": (8, "5.5,0 5.5,10 1,3 7.2,3"),
        "5": (8, "6.6,10 1.9,10 1.6,5.6 a:4,3.3,3,3.3,140,-150"),
        "6": (8, "a:4,3.2,3,3.2,0,360 | a:4.5,3.2,3.5,6.8,180,60"),
        "7": (8, "1,10 7,10 3,0"),
        "8": (8, "a:4,7.6,2.6,2.4,0,360 | a:4,2.6,3,2.6,0,360"),
        "9": (8, "a:4,6.8,3,3.2,0,360 | a:3.5,6.8,3.5,6.8,0,-120"),
        ":": (3, "1.5,6.5 1.5,6.6 | 1.5,0 1.5,0.1"),
        ";": (3, "1.5,6.5 1.5,6.6 | 1.6,0.5 1.6,0 0.6,-2"),
        "<": (8, "7,8.5 1,5 7,1.5"),
        "=": (8, "1,6.5 7,6.5 | 1,3.5 7,3.5"),
        ">": (8, "1,8.5 7,5 1,1.5"),
        "?": (7, "a:3.5,7.5,2.5,2.5,160,-60 3.5,4.2 3.5,3 | 3.5,0.1 3.5,0"),
        "@": (12, "a:6.2,4.2,1.8,2.2,0,360 | 8,6.4 8,3 a:9.2,3,1.2,1.2,180,360 a:6,4.2,5,5.5,10,340"),
        "A": (9, "1,0 4.5,10 8,0 | 2.3,3.5 6.7,3.5"),
        "B": (9, "1,0 1,10 5,10 a:5,7.5,2.5,2.5,90,-90 1,5 | 5,5 a:5.2,2.5,2.8,2.5,90,-90 1,0"),
        "C": (9, "a:5,5,4,5,50,310"),
        "D": (9.5, "1,0 1,10 4,10 a:4,5,4.2,5,90,-90 1,0"),
        "E": (8, "7,10 1,10 1,0 7,0 | 1,5 6,5"),
        "F": (7.5, "7,10 1,10 1,0 | 1,5 6,5"),
        "G": (10, "a:5,5,4,5,45,350 9,5 5.5,5"),
        "H": (9, "1,0 1,10 | 8,0 8,10 | 1,5 8,5"),
        "I": (3, "1.5,0 1.5,10"),
        "J": (7, "6,10 6,3 a:3.5,3,2.5,3,0,-170"),
        "K": (8.5, "1,0 1,10 | 8,10 1,3.5 | 3.3,5.5 8,0"),
        "L": (7.5, "1,10 1,0 7,0"),
        "M": (10.5, "1,0 1,10 5.25,2 9.5,10 9.5,0"),
        "N": (9, "1,0 1,10 8,0 8,10"),
        "O": (10, "a:5,5,4,5,0,360"),
        "P": (8.5, "1,0 1,10 5,10 a:5,7.25,2.75,2.75,90,-90 1,4.5"),
        "Q": (10, "a:5,5,4,5,0,360 | 6,2.5 9,-0.5"),
        "R": (8.5, "1,0 1,10 5,10 a:5,7.4,2.6,2.6,90,-90 1,4.8 | 4.5,4.8 8,0"),
        "S": (8.5, letterS),
        "T": (8, "0.5,10 7.5,10 | 4,10 4,0"),
        "U": (9, "1,10 1,3.5 a:4.5,3.5,3.5,3.5,180,360 8,10"),
        "V": (9, "0.5,10 4.5,0 8.5,10"),
        "W": (12, "0.5,10 3.25,0 6,10 8.75,0 11.5,10"),
        "X": (8.5, "1,10 7.5,0 | 7.5,10 1,0"),
        "Y": (8.5, "0.5,10 4.25,5 8,10 | 4.25,5 4.25,0"),
        "Z": (8, "1,10 7,10 1,0 7,0"),
        "[": (4.5, "3.5,10.5 1.2,10.5 1.2,-2.5 3.5,-2.5"),
        "\\": (6, "0.5,10 5.5,-1"),
        "]": (4.5, "1,10.5 3.3,10.5 3.3,-2.5 1,-2.5"),
        "^": (7, "1,6 3.5,10 6,6"),
        "_": (7, "0,-2 7,-2"),
        "`": (4, "1,10 2.5,8"),
        "a": (7.5, "a:3.6,3.5,2.6,3.5,0,360 | 6.2,7 6.2,0"),
        "b": (7.5, "1,10 1,0 | a:3.8,3.5,2.8,3.5,0,360"),
        "c": (7, "a:3.9,3.5,2.9,3.5,45,315"),
        "d": (7.5, "a:3.6,3.5,2.6,3.5,0,360 | 6.2,10 6.2,0"),
        "e": (7.5, "1,3.5 6.6,3.5 a:3.8,3.5,2.8,3.5,0,315"),
        "f": (5, "4.8,10 3.8,10 a:3.8,8.6,1.4,1.4,90,180 2.4,0 | 0.8,7 4.6,7"),
        "g": (7.5, "a:3.6,3.5,2.6,3.5,0,360 | 6.2,7 6.2,-1 a:3.6,-1,2.6,2,0,-160"),
        "h": (7.5, "1,10 1,0 | 1,4.5 a:3.8,4.5,2.8,2.5,180,0 6.6,0"),
        "i": (3, "1.5,0 1.5,7 | 1.5,9.3 1.5,9.5"),
        "j": (3.5, "2,7 2,-1.5 a:0.5,-1.5,1.5,1.5,0,-120 | 2,9.3 2,9.5"),
        "k": (7, "1,10 1,0 | 6,7 1,2.5 | 2.8,4 6.3,0"),
        "l": (3, "1.5,10 1.5,0"),
        "m": (12, "1,7 1,0 | 1,4.5 a:3.5,4.5,2.5,2.5,180,0 6,0 | 6,4.5 a:8.5,4.5,2.5,2.5,180,0 11,0"),
        "n": (7.5, "1,7 1,0 | 1,4.5 a:3.8,4.5,2.8,2.5,180,0 6.6,0"),
        "o": (7.5, "a:3.8,3.5,2.8,3.5,0,360"),
        "p": (7.5, "1,7 1,-3 | a:3.8,3.5,2.8,3.5,0,360"),
        "q": (7.5, "a:3.6,3.5,2.6,3.5,0,360 | 6.2,7 6.2,-3"),
        "r": (5.5, "1,7 1,0 | 1,4 a:3.8,4,2.8,3,180,70"),
        "s": (6.5, "a:3.2,5.25,2.2,1.75,30,270 a:3.2,1.75,2.4,1.75,90,-150"),
        "t": (5, "2.2,9.5 2.2,1.5 a:3.7,1.5,1.5,1.5,180,300 | 0.6,7 4.6,7"),
        "u": (7.5, "1,7 1,2.5 a:3.8,2.5,2.8,2.5,180,360 | 6.6,7 6.6,0"),
        "v": (7, "0.5,7 3.5,0 6.5,7"),
        "w": (10, "0.5,7 2.75,0 5,7 7.25,0 9.5,7"),
        "x": (7, "1,7 6,0 | 6,7 1,0"),
        "y": (7, "0.5,7 3.5,0 | 6.5,7 2.2,-3"),
        "z": (6.5, "1,7 5.5,7 1,0 5.5,0"),
        "{": (5, "4,10.5 2.6,10 2.6,5 1,4 2.6,3 2.6,-2 4,-2.5"),
        "|": (3, "1.5,10.5 1.5,-2.5"),
        "}": (5, "1,10.5 2.4,10 2.4,5 4,4 2.4,3 2.4,-2 1,-2.5"),
        "~": (8, "1,4.5 a:2.5,4.5,1.5,1.2,180,0 a:5.5,4.5,1.5,1.2,180,360"),
        "×": (8, "1.5,7.5 6.5,2.5 | 6.5,7.5 1.5,2.5"),
        "‖": (5, "1.6,10.5 1.6,-2.5 | 3.4,10.5 3.4,-2.5"),
        "−": (8, "1,5 7,5"),
        "·": (3, "1.5,4.5 1.5,4.6"),
        "…": (9, "1.5,0 1.5,0.1 | 4.5,0 4.5,0.1 | 7.5,0 7.5,0.1"),
        "–": (7, "0.5,4 6.5,4"),
        "—": (10, "0.5,4 9.5,4"),
        "→": (10, "1,5 9,5 | 6,7.5 9,5 6,2.5"),
        "≈": (8, "1,6 a:2.5,6,1.5,1,180,0 a:5.5,6,1.5,1,180,360 | 1,3 a:2.5,3,1.5,1,180,0 a:5.5,3,1.5,1,180,360"),
    ]

    static let glyphs: [Character: Glyph] = {
        var table: [Character: Glyph] = [:]
        for (character, (advance, description)) in descriptions { table[character] = parse(advance, description) }
        let digits = Array("0123456789")
        let superscripts = Array("⁰¹²³⁴⁵⁶⁷⁸⁹"), subscripts = Array("₀₁₂₃₄₅₆₇₈₉")
        for (index, digit) in digits.enumerated() {
            table[superscripts[index]] = shifted(table[digit]!, scale: 0.6, raise: 4.6)
            table[subscripts[index]] = shifted(table[digit]!, scale: 0.6, raise: -2)
        }
        table["⁻"] = shifted(table["−"]!, scale: 0.6, raise: 4.6)
        table["⁺"] = shifted(table["+"]!, scale: 0.6, raise: 4.6)
        return table
    }()
}
