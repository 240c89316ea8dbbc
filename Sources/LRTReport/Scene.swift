import Foundation

/// An sRGB colour with 8 bits per channel.
public struct Color: Sendable, Equatable, Hashable {
    public var red: UInt8, green: UInt8, blue: UInt8

    /// A colour from its channels.
    public init(red: UInt8, green: UInt8, blue: UInt8) { (self.red, self.green, self.blue) = (red, green, blue) }

    /// A colour from `0xRRGGBB`.
    public init(hex: UInt32) {
        self.init(red: UInt8(hex >> 16 & 0xFF), green: UInt8(hex >> 8 & 0xFF), blue: UInt8(hex & 0xFF))
    }

    /// `#rrggbb`, as SVG writes colours.
    public var hexString: String { String(format: "#%02x%02x%02x", red, green, blue) }

    public static let white = Color(hex: 0xFFFFFF)
    public static let black = Color(hex: 0x000000)
    /// Text and axes.
    public static let ink = Color(hex: 0x222222)
    /// Secondary text (tick labels).
    public static let secondaryInk = Color(hex: 0x444444)
    /// Gridlines.
    public static let grid = Color(hex: 0xE3E3E3)
    /// Line-style keys in legends.
    public static let neutral = Color(hex: 0x555555)

    /// Okabe & Ito's colour-blind-safe qualitative palette ("Color Universal Design", 2008), darkest first,
    /// without its yellow, which is too light on white: one colour per run.
    public static let qualitative: [Color] = [0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7, 0xE69F00, 0x56B4E9, 0x000000]
        .map { Color(hex: $0) }

    /// A colour of the viridis map (van der Walt & Smith, matplotlib 2.0), perceptually uniform and readable
    /// by colour-blind readers; `position` in 0...1 runs from dark purple through blue and green, stopping
    /// short of the pale yellow end, which is hard to see on white.
    public static func sequential(_ position: Double) -> Color {
        let anchors: [UInt32] = [0x440154, 0x482878, 0x3E4A89, 0x31688E, 0x26828E, 0x1F9E89, 0x35B779, 0x6DCD59, 0xB4DE2C]
        let t = min(max(position.isFinite ? position : 0, 0), 1) * Double(anchors.count - 1)
        let index = min(Int(t), anchors.count - 2), fraction = t - Double(index)
        let (a, b) = (Color(hex: anchors[index]), Color(hex: anchors[index + 1]))
        func mix(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Double(x) + (Double(y) - Double(x)) * fraction).rounded()) }
        return Color(red: mix(a.red, b.red), green: mix(a.green, b.green), blue: mix(a.blue, b.blue))
    }
}

/// A point in figure coordinates: CSS pixels, origin at the top left, y down.
public struct Point: Sendable, Equatable {
    public var x: Double, y: Double
    public init(_ x: Double, _ y: Double) { (self.x, self.y) = (x, y) }
}

/// An axis-aligned rectangle in figure coordinates.
public struct Rectangle: Sendable, Equatable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        (self.x, self.y, self.width, self.height) = (x, y, width, height)
    }
    public var maxX: Double { x + width }
    public var maxY: Double { y + height }
    /// Whether `point` lies inside or on the edge.
    public func contains(_ point: Point) -> Bool { point.x >= x && point.x <= maxX && point.y >= y && point.y <= maxY }
}

/// Where a text's anchor point is, horizontally.
public enum TextAnchor: String, Sendable {
    case start, middle, end
}

/// One thing to draw. Every shape has a `role` (`series`, `gridline`, `tick-label`, …) that the SVG back end
/// writes as its class, so tests and style sheets can find the parts of a figure.
public enum Shape: Sendable {
    /// A line through `points` (not closed); `dash` lengths alternate on and off, empty for a solid line.
    /// Drawn only inside `clip` when it is given.
    case polyline(points: [Point], color: Color, width: Double, opacity: Double, dash: [Double], clip: Rectangle?, role: String)
    /// A filled rectangle.
    case rectangle(Rectangle, fill: Color, opacity: Double, role: String)
    /// A filled circle (a data marker).
    case circle(center: Point, radius: Double, fill: Color, opacity: Double, clip: Rectangle?, role: String)
    /// One line of text whose baseline passes through `position`; rotated by `rotation` degrees
    /// clockwise about it (−90 reads bottom to top).
    case text(String, position: Point, size: Double, color: Color, anchor: TextAnchor, rotation: Double, bold: Bool, role: String)

    /// The shape's role.
    public var role: String {
        switch self {
        case .polyline(_, _, _, _, _, _, let role), .rectangle(_, _, _, let role), .circle(_, _, _, _, _, let role),
             .text(_, _, _, _, _, _, _, let role): return role
        }
    }
}

/// A finished picture: a size, a background and shapes drawn in order, in CSS pixels.
public struct Scene: Sendable {
    public var width: Double
    public var height: Double
    public var background = Color.white
    public var shapes: [Shape] = []
    /// The figure's title, for the file's metadata.
    public var title = ""

    /// An empty scene of the given size.
    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }
}
