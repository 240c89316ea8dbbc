/// Columns of numbers over one x axis (epochs or steps), as a log or checkpoint holds them.
///
/// Every column has one value per x; a value a row did not have is NaN, so a row may name
/// fewer or more columns than the rows before it.
public struct SeriesTable: Sendable, Equatable {
    /// The x value of each row (epoch or global step).
    public private(set) var x: [Double] = []
    /// Column names in order of first appearance.
    public private(set) var names: [String] = []
    /// The values of each column, `x.count` long.
    public private(set) var columns: [String: [Double]] = [:]

    /// An empty table.
    public init() {}

    /// The number of rows.
    public var count: Int { x.count }

    /// Appends a row at `x`; columns new in this row are NaN in earlier rows, columns missing from it are NaN here.
    public mutating func append(x: Double, values: [(name: String, value: Double)]) {
        let previous = self.x.count
        self.x.append(x)
        for (name, value) in values {
            if columns[name] == nil {
                names.append(name)
                columns[name] = Array(repeating: .nan, count: previous)
            }
            if columns[name]!.count == previous { columns[name]!.append(value) } else { columns[name]![previous] = value }
        }
        for name in names where columns[name]!.count == previous { columns[name]!.append(.nan) }
    }

    /// Adds `offset` to every x (Keras's 0-based epochs become completed-epoch counts).
    mutating func shiftX(by offset: Double) { x = x.map { $0 + offset } }

    /// The column `name`, or nil when no row had it.
    public func column(_ name: String) -> [Double]? { columns[name] }
}

/// One training run as a plot sees it: per-epoch metrics and per-step layer telemetry, with a label.
///
/// Step columns are named as lrt's per-step logs name them: `loss`, `learning_rate`,
/// `multiplier/<layer>`, `gradient_norm/<layer>`, `weight_norm/<layer>`, `update_norm/<layer>`.
public struct RunRecord: Sendable, Equatable {
    /// The legend label (`--label`, or the file name without its extension).
    public var label: String
    /// The files the run was read from.
    public var sources: [String]
    /// Per-epoch metrics (`loss`, `accuracy`, `val_loss`, `val_accuracy`, `learning_rate`, …); x is the number of
    /// completed epochs, 1 for the first.
    public var epochs = SeriesTable()
    /// Per-step records; x is the global step.
    public var steps = SeriesTable()
    /// Things worth telling the user that did not stop the reading (a cut-off last line).
    public var warnings: [String] = []

    /// A run with no data yet.
    public init(label: String, sources: [String]) {
        self.label = label
        self.sources = sources
    }

    /// The layers with per-step telemetry, in the order the file lists them (input to output).
    public var layers: [String] {
        var seen = Set<String>(), layers: [String] = []
        for name in steps.names {
            for prefix in RunRecord.layerColumnPrefixes where name.hasPrefix(prefix) {
                let layer = String(name.dropFirst(prefix.count))
                if seen.insert(layer).inserted { layers.append(layer) }
            }
        }
        return layers
    }

    /// The prefixes of per-layer step columns.
    static let layerColumnPrefixes = ["multiplier/", "gradient_norm/", "weight_norm/", "update_norm/"]
}
