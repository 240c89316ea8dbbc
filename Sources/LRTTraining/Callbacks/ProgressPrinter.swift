import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a run shows its progress within an epoch.
public enum ProgressStyle: Sendable {
    /// A live bar redrawn in place (for a terminal): step/total, loss, accuracy, images/s, ETA, and the
    /// smallest and largest layer multiplier.
    case bar
    /// The same fields as a plain line every 10% of an epoch (for a log file or pipe).
    case lines
    /// Only the epoch summary lines.
    case epochs

    /// `.bar` when standard error is a terminal, else `.lines`.
    public static var automatic: ProgressStyle { isatty(STDERR_FILENO) != 0 ? .bar : .lines }
}

/// Prints the progress of each epoch (see ``ProgressStyle``) and one summary line per epoch: epoch, loss,
/// accuracy, validation metrics, images/s and elapsed time.
public final class ProgressPrinter: TrainingCallback {
    private let totalEpochs: Int
    private let style: ProgressStyle
    private let write: (String) -> Void
    private let redraw: (String) -> Void
    private let started = Date()
    /// Images seen in the epoch when this process started on it, and the tenth of the epoch last printed.
    private var seenAtStart = 0
    private var printedTenth = 0
    private var lastDrawn = 0.0
    private var loaderBefore = (waited: 0.0, filled: 0.0)

    /// - Parameters:
    ///   - totalEpochs: the epoch count the run goes to.
    ///   - style: how the progress within an epoch is shown (default `.epochs`: summary lines only).
    ///   - write: where lines go (default: standard error).
    ///   - redraw: draws the bar in place of the last one, `""` clears it (default: on standard error).
    public init(totalEpochs: Int, style: ProgressStyle = .epochs,
                write: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) },
                redraw: @escaping (String) -> Void = ProgressPrinter.redrawOnStandardError) {
        self.totalEpochs = totalEpochs
        self.style = style
        self.write = write
        self.redraw = redraw
    }

    /// Clears the terminal line and draws `text` on it, cut to the terminal's width.
    public static func redrawOnStandardError(_ text: String) {
        var size = winsize()
        let columns = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 1 ? Int(size.ws_col) - 1 : 119
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + String(text.prefix(columns))).utf8))
    }

    public func onTrainBegin(_ trainer: Trainer) throws { startEpoch(trainer) }
    public func onEpochBegin(_ trainer: Trainer) throws { startEpoch(trainer) }

    private func startEpoch(_ trainer: Trainer) {
        seenAtStart = trainer.state.epochSeen
        printedTenth = trainer.state.epochOrder.isEmpty ? 0 : trainer.state.position * 10 / trainer.state.epochOrder.count
    }

    public func onBatchEnd(_ trainer: Trainer) throws {
        let state = trainer.state
        let count = state.epochOrder.count
        guard count > 0, style != .epochs else { return }
        switch style {
        case .bar:
            let now = Date().timeIntervalSinceReferenceDate
            guard now - lastDrawn >= 0.1 || state.position == count else { return }
            lastDrawn = now
            redraw(line(trainer, bar: true))
        case .lines:
            let tenth = state.position * 10 / count
            guard tenth > printedTenth, state.position < count else { return }
            printedTenth = tenth
            write(line(trainer, bar: false))
        case .epochs:
            return
        }
    }

    /// `  epoch 1/2  step 12/23 (50%)  loss 2.2529  accuracy 0.1839  540 img/s  ETA 2s  multiplier 1.02–3.41`
    /// (indented, so that only summary lines start with `epoch`), with a bar in place of the percentage when `bar`.
    func line(_ trainer: Trainer, bar: Bool) -> String {
        let state = trainer.state
        let count = state.epochOrder.count
        let steps = (count + state.batchSize - 1) / state.batchSize
        let step = (state.position + state.batchSize - 1) / state.batchSize
        let rate = Double(state.epochSeen - seenAtStart) / max(trainer.epochSeconds, 1e-9)
        let remaining = Double(count - state.position) / max(rate, 1e-9)
        var text = (bar ? "" : "  ") + "epoch \(state.epoch + 1)/\(totalEpochs)  "
        if bar {
            let filled = 24 * state.position / count
            text += "[" + String(repeating: "=", count: filled) + (filled < 24 ? ">" : "")
                + String(repeating: " ", count: max(0, 23 - filled)) + "]  \(step)/\(steps)"
        } else {
            text += "step \(step)/\(steps) (\(100 * state.position / count)%)"
        }
        text += String(format: "  loss %.4f  accuracy %.4f  %.0f img/s  ETA ", trainer.epochLoss, trainer.epochAccuracy, rate)
            + Self.duration(remaining)
        let multipliers = trainer.optimizer.lastTelemetry.map(\.effectiveMultiplier)
        if let smallest = multipliers.min(), let largest = multipliers.max() {
            text += String(format: "  multiplier %.3g–%.3g", smallest, largest)
        }
        return text
    }

    /// `42s`, `3m05s`, `1h02m`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 360_000 else { return "?" }
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm", whole / 3600, whole % 3600 / 60)
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        if style == .bar { redraw("") }
        let value = Dictionary(metrics, uniquingKeysWith: { first, _ in first })
        let validation = value["val_loss"].map { String(format: "  val_loss %.4f  val_accuracy %.4f", $0, value["val_accuracy"] ?? .nan) } ?? ""
        write(String(format: "epoch %d/%d  loss %.4f  accuracy %.4f", trainer.state.epoch, totalEpochs,
                     value["loss"] ?? .nan, value["accuracy"] ?? .nan) + validation
              + String(format: "  %.0f img/s  elapsed %.1fs", value["images_per_second"] ?? .nan, Date().timeIntervalSince(started))
              + loaderShare(trainer))
    }

    /// `  loader 0.4% of step time (work 2.1%)`: the share of this epoch's step time spent waiting for batches, and
    /// the share the loader worked (in the background while the steps ran).
    private func loaderShare(_ trainer: Trainer) -> String {
        let now = trainer.loaderSeconds, seconds = trainer.epochSeconds
        defer { loaderBefore = now }
        guard seconds > 0 else { return "" }
        return String(format: "  loader %.1f%% of step time (work %.1f%%)", 100 * (now.waited - loaderBefore.waited) / seconds,
                      100 * (now.filled - loaderBefore.filled) / seconds)
    }

    public func onTrainEnd(_ trainer: Trainer) throws {
        if style == .bar, !trainer.state.epochOrder.isEmpty { redraw("") }  // stopped mid-epoch
    }
}
